import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '../cluster/control-plane.js';
import { dispatchBenchmark } from './dispatch.bench.js';
import { describeTarget, type Figure, met, ratio } from './figures.js';
import { jobStartupBenchmark } from './job-startup.bench.js';
import { restoreBenchmark } from './restore.bench.js';
import { s3UploadBenchmark } from './s3-upload.bench.js';

/**
 * `npm run bench`: every figure is a ratio against a baseline measured in the same run on the
 * same machine, never an absolute time. Writes docs/BENCHMARKS.md and docs/benchmarks.json.
 */
const root = join(import.meta.dirname, '../..');
const n = Number(process.env.BENCH_CHECKPOINTS ?? 1000);
const figures: Figure[] = [];

// BENCH_ONLY=dispatch,s3,startup,restore runs a subset (the report then holds only those figures).
const only = new Set((process.env.BENCH_ONLY ?? 'dispatch,s3,startup,restore').split(',').map((s) => s.trim()));

if (only.has('dispatch')) {
  const cp = await startControlPlane();
  try {
    await cp.kubectl(['apply', '--server-side', '-k', join(root, 'manifests/crd')]);
    await cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '-l', 'app.kubernetes.io/part-of=checkpoint-operator']);
    figures.push(...await dispatchBenchmark(cp, n));
  } finally {
    await cp.stop();
  }
}
if (only.has('s3')) figures.push(...await s3UploadBenchmark());
if (only.has('startup')) figures.push(...await jobStartupBenchmark());
if (only.has('restore')) figures.push(...await restoreBenchmark());

const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const rows = figures.map((f) => {
  const m = met(f);
  return `| ${f.name} | ${f.value.toFixed(2)} ${f.unit} | ${f.baseline.toFixed(2)} ${f.unit} (${f.baselineName}) | ${ratio(f).toFixed(2)} | ${describeTarget(f)} | ${m === undefined ? '—' : m ? 'yes' : 'no'} |`;
});
const md = `# Benchmarks

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${machine}.
Every figure is measured against its baseline in the same run; the ratio is value / baseline.

| figure | value | baseline | ratio | target | met |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
await mkdir(join(root, 'docs'), { recursive: true });
await writeFile(join(root, 'docs/BENCHMARKS.md'), md);
await writeFile(join(root, 'docs/benchmarks.json'), `${JSON.stringify(figures.map((f) => ({
  name: f.name, value: f.value, unit: f.unit, baseline: f.baseline, baselineName: f.baselineName, ratio: ratio(f), target: f.target ?? null, met: met(f) ?? null,
})), null, 2)}\n`);
process.stdout.write(md);
