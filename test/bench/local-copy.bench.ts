import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeCheckpointArchive } from '../fixtures/checkpoint-archive.js';
import { JOB_NODE_OPTIONS } from '../../src/actions/checkpoint/job.js';
import type { Figure } from './figures.js';
import { bareNodePeakRss, bundle, median, MiB, type WorkerResult } from './workers/bundle.js';

const run = promisify(execFile);

interface Round {
  jobMs: number;
  cpMs: number;
  syncMs: number;
  shaMs: number;
  peakRssBytes: number;
}

/**
 * local/pvc data path: the checkpoint Job's own code (storeArchive into the FilesystemBackend, as
 * for both filesystem backends: tar metadata read on the way, SHA-256, a 0600 temporary file
 * fsynced before its rename, the directory fsynced, the size checked) in a child process with the
 * Job's NODE_OPTIONS, copying a 1 GiB checkpoint archive, against coreutils on the same file:
 * `cp` then `sync <copy>` (the fsync the Job does before its rename: without it cp only fills the
 * page cache), and that followed by `sha256sum` of the source (the Job also hashes), one after the
 * other. Same source file, read once before the rounds so every phase reads it from the page
 * cache; every copy goes to the same directory of the same filesystem, is removed after its phase,
 * and dirty pages are written out (`sync`) before each phase. Rounds alternate which goes first;
 * the ratio is taken per round and the median round reported. Also the Job's peak RSS.
 */
export async function localCopyBenchmark(opts: { sizeBytes?: number; rounds?: number } = {}): Promise<Figure[]> {
  const size = opts.sizeBytes ?? 1024 * MiB;
  const rounds = opts.rounds ?? 5;
  const dir = await mkdtemp(join(tmpdir(), 'bench-local-'));
  try {
    const file = join(dir, 'checkpoint.tar');
    const archive = await writeCheckpointArchive(file, {
      podName: 'bench',
      namespace: 'bench',
      podUid: 'uid',
      containerName: 'main',
      containerId: 'c'.repeat(64),
      image: 'registry.example.com/app:1',
      imageRef: 'sha256:'.padEnd(71, '0'),
      memoryBytes: size,
      createdAt: new Date(),
      checkpointedAt: new Date(),
    });
    const root = join(dir, 'archive');
    await mkdir(root, { mode: 0o700 });
    const operator = await bundle('local-copy-operator', dir);
    const copy = join(root, 'copy.tar');
    const settle = async () => {
      await run('sync', []);
    };
    let keyIndex = 0;

    const job = async (): Promise<{ ms: number; peakRssBytes: number }> => {
      const key = `bench/ckpt/uid-${keyIndex++}/checkpoint-bench_bench-main.tar`;
      await settle();
      const result = await runWorker<WorkerResult & { sha256: string }>(operator, JSON.stringify({ file, root, key }), {
        ...process.env,
        NODE_OPTIONS: JOB_NODE_OPTIONS,
      });
      const stored = await stat(join(root, key));
      if (
        result.bytes !== archive.sizeBytes ||
        stored.size !== archive.sizeBytes ||
        result.sha256 !== archive.sha256 ||
        (stored.mode & 0o777) !== 0o600
      ) {
        throw new Error(
          `the Job stored ${stored.size} bytes (reported ${result.bytes}, mode ${(stored.mode & 0o777).toString(8)}, sha256 ${result.sha256}); expected ${archive.sizeBytes}, 0600, ${archive.sha256}`,
        );
      }
      await rm(join(root, 'bench'), { recursive: true });
      return result;
    };
    const timed = async (cmd: string, args: string[]): Promise<{ ms: number; stdout: string }> => {
      const t0 = performance.now();
      const { stdout } = await run(cmd, args, { maxBuffer: 1 << 20 });
      return { ms: performance.now() - t0, stdout };
    };
    const coreutils = async (): Promise<{ cpMs: number; syncMs: number; shaMs: number }> => {
      await settle();
      const cp = await timed('cp', [file, copy]);
      const sync = await timed('sync', [copy]);
      const sha = await timed('sha256sum', [file]);
      if ((await stat(copy)).size !== archive.sizeBytes || sha.stdout.split(' ')[0] !== archive.sha256)
        throw new Error('cp or sha256sum disagree with the archive written');
      await rm(copy);
      return { cpMs: cp.ms, syncMs: sync.ms, shaMs: sha.ms };
    };

    // The source into the page cache, and one warm-up of each (not counted).
    await run('sh', ['-c', 'cat "$1" > /dev/null', 'warm', file]);
    await coreutils();
    await job();
    const results: Round[] = [];
    for (let r = 0; r < rounds; r++) {
      const jobFirst = r % 2 === 1;
      let j: { ms: number; peakRssBytes: number } | undefined;
      if (jobFirst) j = await job();
      const c = await coreutils();
      if (!jobFirst) j = await job();
      results.push({ jobMs: j!.ms, ...c, peakRssBytes: j!.peakRssBytes });
      const x = results[r]!;
      process.stderr.write(
        `local round ${r + 1} (${jobFirst ? 'Job first' : 'coreutils first'}): Job ${rate(archive.sizeBytes, x.jobMs)} (peak RSS ${(x.peakRssBytes / MiB).toFixed(0)} MiB); ` +
          `cp ${rate(archive.sizeBytes, x.cpMs)}, cp + sync ${rate(archive.sizeBytes, x.cpMs + x.syncMs)}, cp + sync + sha256sum ${rate(archive.sizeBytes, x.cpMs + x.syncMs + x.shaMs)}; ` +
          `ratio vs cp + sync ${((x.cpMs + x.syncMs) / x.jobMs).toFixed(2)}\n`,
      );
    }
    const bare = await bareNodePeakRss();
    const mibs = (ms: number) => archive.sizeBytes / MiB / (ms / 1000);
    const pick = (base: (x: Round) => number) => {
      const ratios = results.map((x) => base(x) / x.jobMs);
      return { m: results[ratios.indexOf(median(ratios))]!, spread: ratios.map((x) => x.toFixed(2)).join(', ') };
    };
    const gib = (archive.sizeBytes / 2 ** 30).toFixed(2);
    const durable = pick((x) => x.cpMs + x.syncMs);
    const hashed = pick((x) => x.cpMs + x.syncMs + x.shaMs);
    const plain = pick((x) => x.cpMs);
    return [
      {
        name: `local/pvc data path throughput, ${gib} GiB archive copied into the archive directory with sha256, 0600, fsync, rename (median of ${rounds}; ratios ${durable.spread})`,
        value: mibs(durable.m.jobMs),
        unit: 'MiB/s',
        baseline: mibs(durable.m.cpMs + durable.m.syncMs),
        baselineName:
          '`cp` of the same file to the same directory, then `sync` of the copy (the fsync the Job does), warm source',
        target: { minRatio: 0.8 },
      },
      {
        name: `the same data path against cp, sync and sha256sum of the source one after the other (same rounds; ratios ${hashed.spread})`,
        value: mibs(hashed.m.jobMs),
        unit: 'MiB/s',
        baseline: mibs(hashed.m.cpMs + hashed.m.syncMs + hashed.m.shaMs),
        baselineName: '`cp`, `sync <copy>`, then `sha256sum` of the source (coreutils, sequential)',
        target: undefined,
      },
      {
        name: `the same data path against \`cp\` alone, no fsync: cp only fills the page cache (same rounds; ratios ${plain.spread})`,
        value: mibs(plain.m.jobMs),
        unit: 'MiB/s',
        baseline: mibs(plain.m.cpMs),
        baselineName: '`cp` of the same file to the same directory, nothing synced',
        target: undefined,
      },
      {
        name: 'checkpoint Job peak RSS during that copy (max of rounds)',
        value: Math.max(...results.map((x) => x.peakRssBytes)) / MiB,
        unit: 'MiB',
        baseline: bare / MiB,
        baselineName: 'bare node start-up',
        target: { maxValue: 150 },
      },
    ];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs a worker and returns its result line. Once that line is out, a worker that does not exit
 * within 10 s is killed: Node's exit can deadlock joining its platform threads (nodejs/node#54918),
 * seen here as a worker left hanging in process.exit() after reporting.
 */
async function runWorker<T>(script: string, arg: string, env: NodeJS.ProcessEnv): Promise<T> {
  const child = spawn(process.execPath, [script, arg], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  let out = '';
  child.stdout.setEncoding('utf8');
  const line = new Promise<string | undefined>((resolve) => {
    child.stdout.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.stdout.on('end', () => resolve(undefined));
  });
  const result = await line;
  if (result === undefined) {
    const [code, signal] = await exited;
    throw new Error(`${script} exited (${signal ?? code}) without a result`);
  }
  const timer = setTimeout(() => {
    process.stderr.write(`${script} reported but did not exit within 10 s: killed\n`);
    child.kill('SIGKILL');
  }, 10_000);
  await exited;
  clearTimeout(timer);
  return JSON.parse(result) as T;
}

const rate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
