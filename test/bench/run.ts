import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { type ControlPlane, startControlPlane } from '../cluster/control-plane.js';
import { dispatchBenchmark } from './dispatch.bench.js';
import { describeTarget, type Figure, met, ratio } from './figures.js';
import { jobStartupBenchmark } from './job-startup.bench.js';
import { localCopyBenchmark } from './local-copy.bench.js';
import { memoryBenchmark } from './memory.bench.js';
import { restoreBenchmark } from './restore.bench.js';
import { s3UploadBenchmark } from './s3-upload.bench.js';
import { sweepBenchmark } from './sweep.bench.js';

/**
 * `npm run bench`: every figure is a ratio against a baseline measured in the same run on the
 * same machine, never an absolute time. Writes docs/BENCHMARKS.md and docs/benchmarks.json; a
 * subset run (BENCH_ONLY) replaces only its own figures there.
 */
const root = join(import.meta.dirname, '../..');
const n = Number(process.env.BENCH_CHECKPOINTS ?? 1000);
const BENCHES = ['dispatch', 's3', 'startup', 'restore', 'sweep', 'memory', 'local'] as const;
type Bench = (typeof BENCHES)[number];
const measured: { bench: Bench; figure: Figure }[] = [];
const add = (bench: Bench, figures: Figure[]) => measured.push(...figures.map((figure) => ({ bench, figure })));

// BENCH_ONLY=dispatch,s3,startup,restore,sweep,memory,local runs a subset; the figures of the others are kept
// from the existing report (each says when, and on what machine, it was measured).
const only = new Set((process.env.BENCH_ONLY ?? BENCHES.join(',')).split(',').map((s) => s.trim()));
const unknown = [...only].filter((b) => !(BENCHES as readonly string[]).includes(b));
if (unknown.length > 0) throw new Error(`BENCH_ONLY: unknown ${unknown.join(', ')} (known: ${BENCHES.join(', ')})`);

/** A control plane with the CRDs established, stopped once fn is done. */
async function withControlPlane<T>(fn: (cp: ControlPlane) => Promise<T>): Promise<T> {
  // A directory of the bench's own (removed below), apart from the checkpoint-cluster-* ones of test runs.
  const dir = await mkdtemp(join(tmpdir(), 'bench-cluster-'));
  const cp = await startControlPlane({ dir });
  try {
    await cp.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/crd')]);
    await cp.kubectl([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd',
      '-l',
      'app.kubernetes.io/part-of=checkpoint-operator',
    ]);
    return await fn(cp);
  } finally {
    await cp.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (only.has('dispatch')) add('dispatch', await withControlPlane((cp) => dispatchBenchmark(cp, n)));
if (only.has('s3')) add('s3', await s3UploadBenchmark());
if (only.has('startup')) add('startup', await jobStartupBenchmark());
if (only.has('restore')) add('restore', await restoreBenchmark());
// A control plane of its own: the dispatch rounds leave thousands of Jobs and pods behind.
if (only.has('sweep')) add('sweep', await withControlPlane((cp) => sweepBenchmark(cp)));
// A control plane of its own too: the dispatcher's caches must hold exactly the objects made for it.
if (only.has('memory')) add('memory', await withControlPlane((cp) => memoryBenchmark(cp)));
if (only.has('local')) add('local', await localCopyBenchmark());

interface Entry {
  bench: Bench;
  name: string;
  value: number;
  unit: string;
  baseline: number;
  baselineName: string;
  ratio: number;
  target: Figure['target'] | null;
  met: boolean | null;
  /** YYYY-MM-DD and machine of the run that measured it. */
  measured: string;
  machine: string;
}
const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const today = new Date().toISOString().slice(0, 10);
const jsonPath = join(root, 'docs/benchmarks.json');
const previous = JSON.parse(await readFile(jsonPath, 'utf8').catch(() => '[]')) as Entry[];
const fresh: Entry[] = measured.map(({ bench, figure: f }) => ({
  bench,
  name: f.name,
  value: f.value,
  unit: f.unit,
  baseline: f.baseline,
  baselineName: f.baselineName,
  ratio: ratio(f),
  target: f.target ?? null,
  met: met(f) ?? null,
  measured: today,
  machine,
}));
const entries = BENCHES.flatMap((b) => (only.has(b) ? fresh : previous).filter((e) => e.bench === b));

const rows = entries.map((e) => {
  const f: Figure = { ...e, target: e.target ?? undefined };
  return `| ${e.name} | ${e.value.toFixed(2)} ${e.unit} | ${e.baseline.toFixed(2)} ${e.unit} (${e.baselineName}) | ${e.ratio.toFixed(2)} | ${describeTarget(f)} | ${e.met === null ? '—' : e.met ? 'yes' : 'no'} |`;
});
const runs = [...new Set(entries.map((e) => `${e.measured}|${e.machine}`))].map((key) => {
  const [date, on] = key.split('|') as [string, string];
  const benches = [...new Set(entries.filter((e) => `${e.measured}|${e.machine}` === key).map((e) => e.bench))];
  return `- ${benches.join(', ')}: ${date}, ${on}`;
});
const md = `# Benchmarks

Produced by \`npm run bench\` (\`BENCH_ONLY=${BENCHES.join(',')}\` runs a subset and keeps the other figures).
Every figure is measured against its baseline in the same run; the ratio is value / baseline.
Measured on:

${runs.join('\n')}

| figure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
await mkdir(join(root, 'docs'), { recursive: true });
await writeFile(join(root, 'docs/BENCHMARKS.md'), md);
await writeFile(jsonPath, `${JSON.stringify(entries, null, 2)}\n`);
process.stdout.write(md);
