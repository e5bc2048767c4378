import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../../src/api/constants.js';
import type { Checkpoint } from '../../../src/api/checkpoint.js';
import { LABELS } from '../../../src/kube/names.js';
import { sha256File, workloadPod } from '../../e2e/support/checkpoints.js';
import { clusterContext } from '../../e2e/support/cluster-context.js';
import { customObjects, kubectl } from '../../e2e/support/kube.js';
import { objectDigest, objectKeys } from '../../e2e/support/s3.js';

/** Checkpoints and their targets for one fault, in a namespace of its own so counts never mix. */
export const OPERATOR_NS = 'checkpoint-operator-system';

export const LOCAL_STORAGE = { backend: 'local', local: { path: '/var/lib/checkpoint-operator/archives' } };

export function checkpointObject(
  namespace: string,
  name: string,
  target: { pod: string; container: string },
  storage: object = LOCAL_STORAGE,
): object {
  return {
    apiVersion: `${API_GROUP}/${API_VERSION}`,
    kind: 'Checkpoint',
    metadata: { name, namespace },
    spec: { target: { podName: target.pod, containerName: target.container }, storage },
  };
}

/** Creates every object in one kubectl call (one apply of a List), so they arrive together. */
export async function applyAll(objects: object[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
}

/**
 * `pods` pods of `containersPerPod` containers each (every container a separate checkpoint
 * target, since the operator checkpoints one container at a time), on CHECKPOINT_NODE unless
 * told otherwise. Ready before it returns.
 */
export async function runWorkloads(
  namespace: string,
  pods: number,
  containersPerPod: number,
  opts: { nodeName?: string; memoryBytes?: number; prefix?: string } = {},
): Promise<{ pod: string; container: string }[]> {
  await kubectl(['create', 'namespace', namespace]).catch(() => undefined);
  const prefix = opts.prefix ?? 'work';
  const containers = Array.from({ length: containersPerPod }, (_, c) => `c${c}`);
  const docs = Array.from({ length: pods }, (_, p) =>
    workloadPod(namespace, `${prefix}-${p}`, {
      containers,
      ...(opts.nodeName ? { nodeName: opts.nodeName } : {}),
      ...(opts.memoryBytes ? { memoryMiB: Math.round(opts.memoryBytes / 2 ** 20) } : {}),
    }),
  );
  await kubectl(['apply', '-f', '-'], docs.join('---\n'));
  await kubectl(['wait', '--for=condition=Ready', 'pod', '--all', '-n', namespace, '--timeout=300s']);
  return Array.from({ length: pods }, (_, p) =>
    containers.map((container) => ({ pod: `${prefix}-${p}`, container })),
  ).flat();
}

export async function listCheckpoints(namespace: string): Promise<Checkpoint[]> {
  const out = (await customObjects().listNamespacedCustomObject({
    group: API_GROUP,
    version: API_VERSION,
    plural: CHECKPOINT_PLURAL,
    namespace,
  })) as { items: Checkpoint[] };
  return out.items;
}

const terminal = (c: Checkpoint) => c.status?.phase === 'Succeeded' || c.status?.phase === 'Failed';

/** Polls until every named Checkpoint is terminal; returns when that happened, or throws with the stragglers. */
export async function waitAllTerminal(namespace: string, names: string[], timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const items = await listCheckpoints(namespace).catch(() => undefined);
    if (items) {
      const byName = new Map(items.map((c) => [c.metadata.name, c]));
      const open = names.filter((n) => {
        const c = byName.get(n);
        return !c || !terminal(c);
      });
      if (open.length === 0) return Date.now();
      if (Date.now() > deadline) {
        throw new Error(
          `${open.length} Checkpoints not terminal after ${timeoutMs / 1000}s: ${open
            .slice(0, 5)
            .map((n) => `${n}=${JSON.stringify(byName.get(n)?.status?.phase)}`)
            .join(', ')}`,
        );
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * A Checkpoint for a pod that does not exist: a dispatcher that leads fails it (PodNotFound) as
 * soon as it reconciles it, before any Job or node slot. Created after a fault, it measures when
 * a dispatcher decides again. A Checkpoint for a real pod would instead wait its turn behind the
 * fleet for one of the node's MAX_CHECKPOINT_JOBS_PER_NODE Job slots, measuring the queue.
 */
export function decisionProbe(namespace: string, name = 'decision-probe'): object {
  return checkpointObject(namespace, name, { pod: 'no-such-pod', container: 'c' });
}

/**
 * Polls until the Checkpoint has left Pending (the dispatcher acted on it) and returns when that
 * happened: the time the dispatcher recorded as it acted (status.startTime when it started a
 * Job, status.completionTime when it failed the Checkpoint at once), taken on this same host's
 * clock. When this test process is the one starved (it shares 2 cores with the nodes), its
 * polls return seconds late; that delay is the harness's, not the dispatcher's, and must not be
 * counted as recovery time. The poll's own moment is the bound when no time is recorded.
 */
export async function waitActedOn(namespace: string, name: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = (await customObjects()
      .getNamespacedCustomObject({ group: API_GROUP, version: API_VERSION, plural: CHECKPOINT_PLURAL, namespace, name })
      .catch(() => undefined)) as Checkpoint | undefined;
    const phase = c?.status?.phase;
    if (phase && phase !== 'Pending') {
      const observedAt = Date.now();
      const recordedAt = Date.parse(c?.status?.startTime ?? c?.status?.completionTime ?? '');
      return Number.isFinite(recordedAt) ? Math.min(recordedAt, observedAt) : observedAt;
    }
    if (Date.now() > deadline)
      throw new Error(`Checkpoint ${namespace}/${name} not acted on within ${timeoutMs / 1000}s (phase ${phase})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** How many Checkpoints have a Job (by their owner labels) and how many of those have more than one. */
export async function jobsPerCheckpoint(namespace: string): Promise<{ withJob: number; duplicates: number }> {
  const jobs = JSON.parse(
    await kubectl([
      'get',
      'jobs',
      '-n',
      OPERATOR_NS,
      '-l',
      `${LABELS.ownerNamespace}=${namespace},${LABELS.action}=checkpoint`,
      '-o',
      'json',
    ]),
  ) as { items: { metadata: { labels: Record<string, string> } }[] };
  const counts = new Map<string, number>();
  for (const j of jobs.items) {
    const uid = j.metadata.labels[LABELS.ownerUid]!;
    counts.set(uid, (counts.get(uid) ?? 0) + 1);
  }
  return { withJob: counts.size, duplicates: [...counts.values()].filter((n) => n > 1).length };
}

export interface Audit {
  checkpoints: number;
  terminal: number;
  succeeded: number;
  failedReasons: Record<string, number>;
  duplicateJobs: number;
  /** Succeeded, yet the archive is missing or its bytes differ from the recorded size and sha256. */
  archivesLostOrWrong: number;
  problems: string[];
}

/**
 * What a user would check after an incident: every Checkpoint terminal, one Job each, and each
 * recorded archive really in storage with the recorded size and sha256.
 */
export async function audit(namespace: string, names: string[], s3?: S3Client): Promise<Audit> {
  const byName = new Map((await listCheckpoints(namespace)).map((c) => [c.metadata.name, c]));
  const result: Audit = {
    checkpoints: names.length,
    terminal: 0,
    succeeded: 0,
    failedReasons: {},
    duplicateJobs: (await jobsPerCheckpoint(namespace)).duplicates,
    archivesLostOrWrong: 0,
    problems: [],
  };
  for (const name of names) {
    const c = byName.get(name);
    if (!c || !terminal(c)) {
      result.problems.push(`${name}: not terminal (${c?.status?.phase})`);
      continue;
    }
    result.terminal++;
    if (c.status!.phase === 'Failed') {
      const reason = c.status!.reason ?? 'NoReason';
      result.failedReasons[reason] = (result.failedReasons[reason] ?? 0) + 1;
      if (c.status!.archive) {
        result.archivesLostOrWrong++;
        result.problems.push(`${name}: Failed but records an archive`);
      }
      continue;
    }
    result.succeeded++;
    const archive = c.status!.archive!;
    const found = await archiveDigest(archive.uri, s3).catch((err: Error) => ({ error: err.message }));
    if ('error' in found || found.size !== archive.sizeBytes || found.sha256 !== archive.sha256) {
      result.archivesLostOrWrong++;
      result.problems.push(
        `${name}: archive ${archive.uri} ${'error' in found ? found.error : `holds ${found.size} bytes sha256 ${found.sha256}`}, recorded ${archive.sizeBytes} bytes sha256 ${archive.sha256}`,
      );
    }
  }
  return result;
}

async function archiveDigest(uri: string, s3: S3Client | undefined): Promise<{ size: number; sha256: string }> {
  const local = /^local:\/\/([^/]+)(\/.*)$/.exec(uri);
  if (local) {
    const file = join(clusterContext().clusterDir, 'nodes', local[1]!, local[2]!);
    return { size: (await stat(file)).size, sha256: await sha256File(file) };
  }
  const inS3 = /^s3:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (inS3 && s3) return await objectDigest(s3, inS3[1]!, inS3[2]!);
  throw new Error(`cannot read ${uri} from the test`);
}

/** Objects left under a Checkpoint's own prefix in the bucket (a Failed one must leave none). */
export async function objectsOf(s3: S3Client, bucket: string, prefix: string, c: Checkpoint): Promise<string[]> {
  return await objectKeys(s3, bucket, `${prefix}${c.metadata.namespace}/${c.metadata.name}/${c.metadata.uid}/`);
}
