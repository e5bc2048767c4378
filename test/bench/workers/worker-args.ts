import { readFileSync } from 'node:fs';

/** Benchmark workers take one JSON argument and print one JSON line: time, bytes, peak RSS. */
export function workerArgs(): { endpoint: string; bucket: string; key: string; file: string; credentials: { accessKeyId: string; secretAccessKey: string } } {
  return JSON.parse(process.argv[2]!);
}

export function reportAndExit(ms: number, bytes: number): never {
  process.stdout.write(`${JSON.stringify({ ms, bytes, peakRssBytes: peakRssBytes() })}\n`);
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
