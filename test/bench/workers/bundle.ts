import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';

const run = promisify(execFile);

export const MiB = 2 ** 20;

/** What a data-path worker prints as its last line. */
export interface WorkerResult {
  ms: number;
  bytes: number;
  peakRssBytes: number;
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Bundles a worker the way tsup bundles a Job: one ESM file, dependencies included. */
export async function bundle(entry: string, outdir: string): Promise<string> {
  const outfile = join(outdir, `${entry}.mjs`);
  await build({
    entryPoints: [join(import.meta.dirname, `${entry}.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return outfile;
}

/**
 * Bundles the dispatcher program as tsup.config.ts does (one ESM build of src/dispatcher/main.ts,
 * dependencies included, code splitting on so what it imports dynamically loads only when used)
 * into outdir, leaving dist/ alone. Returns the path of its manager.js.
 */
export async function bundleManager(outdir: string): Promise<string> {
  await build({
    entryPoints: { manager: join(import.meta.dirname, '../../../src/dispatcher/main.ts') },
    outdir,
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    logLevel: 'error',
  });
  return join(outdir, 'manager.js');
}

/** Peak RSS of a bare `node` start-up: the floor every worker's figure is compared with. */
export async function bareNodePeakRss(): Promise<number> {
  const { stdout } = await run(process.execPath, [
    '-e',
    "process.stdout.write(require('fs').readFileSync('/proc/self/status', 'utf8'))",
  ]);
  return Number(/VmHWM:\s+(\d+) kB/.exec(stdout)?.[1]) * 1024;
}
