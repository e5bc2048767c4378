import { readFileSync } from 'node:fs';

/** Benchmark workers take one JSON argument and print one JSON line: time, bytes, peak RSS. */
export function workerArgs(): {
  endpoint: string;
  bucket: string;
  key: string;
  file: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
} {
  return JSON.parse(process.argv[2]!);
}

/** extra: what else the parent checks (a checksum, say), printed on the same line. */
export function reportAndExit(ms: number, bytes: number, extra: Record<string, unknown> = {}): never {
  process.stdout.write(`${JSON.stringify({ ms, bytes, peakRssBytes: peakRssBytes(), ...extra })}\n`);
  process.exit(0);
}

/**
 * VmHWM: this process's own RSS high-water mark. Not getrusage's maxRSS, which also counts
 * the parent's RSS at the fork that started us.
 */
export function peakRssBytes(): number {
  const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
  return Number(kb) * 1024;
}
