import { readFile, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { renderReliability } from './render.js';

/**
 * What the fault and bad-input suites found, kept in docs/reliability.json and rendered into
 * docs/RELIABILITY.md. Each suite replaces only its own section, so running one suite keeps the
 * other's last results (each section says when and where it ran).
 */
export interface FaultResult {
  /** What was done to the cluster, e.g. "leader SIGKILLed". */
  fault: string;
  /** What was in flight when it happened. */
  during: string;
  /** From the fault (or its end, for a fault held for a while) to the first sign of recovery named in recoveredWhen. */
  recoverySeconds: number;
  recoveredWhen: string;
  checkpoints: number;
  terminal: number;
  succeeded: number;
  duplicateJobs: number;
  /** Succeeded Checkpoints whose archive is missing or whose bytes do not match the recorded size and sha256. */
  archivesLostOrWrong: number;
  /** Dispatcher restarts the fault does not explain (the case fails on any). */
  dispatcherRestarts: number;
  /** Every dispatcher restart during the case, each with its cause (stepped down, killed, crashed). */
  restartCauses?: string;
  /** Reasons of the Checkpoints that ended Failed, with counts. */
  failedReasons: Record<string, number>;
  held: boolean;
  notes?: string;
}

export interface BadInputResult {
  category: 'Checkpoint' | 'CheckpointPolicy' | 'restore annotation' | 'operator configuration' | 'runtime';
  case: string;
  /** "rejected by the API server", "Failed/<Reason>", "restore-status=Failed/<Reason>", "exit 1", … */
  outcome: string;
  /** The message a user sees (shortened). */
  message: string;
  held: boolean;
}

export interface ReliabilityReport {
  faults?: { ranAt: string; machine: string; results: FaultResult[] };
  badInput?: { ranAt: string; machine: string; dispatcherRestarts: number; results: BadInputResult[] };
}

const root = join(import.meta.dirname, '../..');
const jsonPath = join(root, 'docs/reliability.json');
const mdPath = join(root, 'docs/RELIABILITY.md');

export function machine(): string {
  return `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

async function readReport(): Promise<ReliabilityReport> {
  try {
    return JSON.parse(await readFile(jsonPath, 'utf8')) as ReliabilityReport;
  } catch {
    return {};
  }
}

/** Replaces one suite's section of docs/reliability.json and re-renders docs/RELIABILITY.md. */
export async function writeSection<K extends keyof ReliabilityReport>(
  key: K,
  section: NonNullable<ReliabilityReport[K]>,
): Promise<void> {
  const report = { ...(await readReport()), [key]: section };
  await writeFile(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(mdPath, renderReliability(report));
}
