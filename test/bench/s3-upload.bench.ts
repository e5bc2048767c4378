import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { startMinio } from '../cluster/minio.js';
import { writeCheckpointArchive } from '../fixtures/checkpoint-archive.js';
import { adminS3, createBucket } from '../e2e/support/s3.js';
import { JOB_NODE_OPTIONS } from '../../src/actions/checkpoint/job.js';
import type { Figure } from './figures.js';
import { bareNodePeakRss, bundle, median, MiB, type WorkerResult } from './workers/bundle.js';

const run = promisify(execFile);
/**
 * S3 data path: a 1 GiB checkpoint archive uploaded to MinIO by the Job's own code (metadata
 * tap, sha256, multipart with per-part SHA-256 checksums, HEAD check) against a plain multipart
 * loop doing the same upload with the same SDK, part size and concurrency. Alternating rounds;
 * medians. Also the Job code's peak RSS against a bare `node` start-up.
 */
export async function s3UploadBenchmark(opts: { sizeBytes?: number; rounds?: number } = {}): Promise<Figure[]> {
  const size = opts.sizeBytes ?? 1024 * MiB;
  const rounds = opts.rounds ?? 3;
  const dir = await mkdtemp(join(tmpdir(), 'bench-s3-'));
  const minio = await startMinio({ dir });
  const admin = adminS3(minio);
  try {
    await createBucket(admin, 'bench');
    const file = join(dir, 'archive.tar');
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
    const [operator, reference] = await Promise.all([
      bundle('s3-upload-operator', dir),
      bundle('s3-upload-reference', dir),
    ]);
    const worker = async (script: string, key: string): Promise<WorkerResult> => {
      const args = JSON.stringify({
        endpoint: minio.endpoint,
        bucket: 'bench',
        key,
        file,
        credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
      });
      // Each runs as it would in production: ours with the Job's NODE_OPTIONS (see src/actions/checkpoint/job.ts).
      const env = script === operator ? { ...process.env, NODE_OPTIONS: JOB_NODE_OPTIONS } : process.env;
      const { stdout, stderr } = await run(process.execPath, [script, args], { maxBuffer: 1 << 20, env });
      if (stderr) process.stderr.write(stderr);
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as WorkerResult;
      if (result.bytes !== archive.sizeBytes)
        throw new Error(`${script} uploaded ${result.bytes} of ${archive.sizeBytes} bytes`);
      await admin.send(new DeleteObjectCommand({ Bucket: 'bench', Key: key }));
      return result;
    };
    const ours: WorkerResult[] = [];
    const refs: WorkerResult[] = [];
    await worker(reference, 'warm-up'); // the first upload also pays MinIO's own start-up costs
    for (let i = 0; i < rounds; i++) {
      refs.push(await worker(reference, `ref-${i}`));
      ours.push(await worker(operator, `ours-${i}`));
      process.stderr.write(
        `s3 round ${i + 1}: reference ${(archive.sizeBytes / MiB / (refs[i]!.ms / 1000)).toFixed(0)} MiB/s, operator ${(archive.sizeBytes / MiB / (ours[i]!.ms / 1000)).toFixed(0)} MiB/s, operator peak RSS ${(ours[i]!.peakRssBytes / MiB).toFixed(0)} MiB (reference ${(refs[i]!.peakRssBytes / MiB).toFixed(0)} MiB)\n`,
      );
    }
    const bare = await bareNodePeakRss();
    const throughput = (r: WorkerResult) => archive.sizeBytes / MiB / (r.ms / 1000);
    return [
      {
        name: `S3 upload throughput, ${(archive.sizeBytes / 2 ** 30).toFixed(2)} GiB archive to MinIO (median of ${rounds})`,
        value: median(ours.map(throughput)),
        unit: 'MiB/s',
        baseline: median(refs.map(throughput)),
        baselineName: 'plain multipart loop, same SDK, part size and concurrency',
        target: { minRatio: 0.9 },
      },
      {
        name: 'Checkpoint Job data path peak RSS during that upload (max of rounds)',
        value: Math.max(...ours.map((r) => r.peakRssBytes)) / MiB,
        unit: 'MiB',
        baseline: bare / MiB,
        baselineName: 'bare node start-up',
        target: { maxValue: 150 },
      },
    ];
  } finally {
    admin.destroy();
    await minio.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
