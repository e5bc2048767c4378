import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startMinio } from '../cluster/minio.js';
import { writeCheckpointArchive } from '../fixtures/checkpoint-archive.js';
import { type RegistryServer, startRegistry } from '../cluster/registry.js';
import { adminS3, createBucket } from '../e2e/support/s3.js';
import { JOB_NODE_OPTIONS } from '../../src/actions/shared/action-job.js';
import { S3Backend } from '../../src/storage/s3.js';
import type { Figure } from './figures.js';
import { bareNodePeakRss, bundle, median, MiB, type WorkerResult } from './workers/bundle.js';
import type { RestoreWorkerArgs } from './workers/restore-args.js';

const run = promisify(execFile);
/**
 * Restore data path: a 1 GiB checkpoint archive in MinIO copied into a real registry by the
 * restore Job's own code (S3 GET, tar metadata tap, size and sha256 check before the layer is
 * committed, then config, manifest and index) against curl piped into curl moving the same bytes
 * as a bare blob upload. Alternating rounds, each into a repository of its own with the blob's
 * data removed from the registry afterwards, so every round pays the registry's full write.
 * Also the Job code's peak RSS against a bare `node` start-up.
 */
export async function restoreBenchmark(opts: { sizeBytes?: number; rounds?: number } = {}): Promise<Figure[]> {
  const size = opts.sizeBytes ?? 1024 * MiB;
  const rounds = opts.rounds ?? 5;
  const dir = await mkdtemp(join(tmpdir(), 'bench-restore-'));
  const minio = await startMinio({ dir });
  const admin = adminS3(minio);
  let registry: RegistryServer | undefined;
  try {
    registry = await startRegistry({ dir });
    const registryUrl = registry.url;
    const credentials = { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey };
    await createBucket(admin, 'bench');
    const file = join(dir, 'archive.tar');
    const createdAt = new Date();
    const archive = await writeCheckpointArchive(file, {
      podName: 'bench',
      namespace: 'bench',
      podUid: 'uid',
      containerName: 'main',
      containerId: 'c'.repeat(64),
      image: 'registry.example.com/app:1',
      imageRef: 'sha256:'.padEnd(71, '0'),
      memoryBytes: size,
      createdAt,
      checkpointedAt: createdAt,
    });
    const key = 'bench/bench/main/checkpoint.tar';
    // Stored the way a checkpoint Job stores it, so the object is what a restore Job really meets.
    const store = new S3Backend({ endpoint: minio.endpoint, bucket: 'bench', forcePathStyle: true, credentials });
    const stored = await store.put(key, createReadStream(file), archive.sizeBytes).finally(() => store.destroy());
    if (stored.sizeBytes !== archive.sizeBytes || stored.sha256 !== archive.sha256) {
      throw new Error(
        `S3 stored ${stored.sizeBytes} bytes with sha256 ${stored.sha256}; the archive is ${archive.sizeBytes} bytes with ${archive.sha256}`,
      );
    }
    await rm(file);
    const curlConfig = join(dir, 'curl-s3.conf');
    await writeFile(curlConfig, `user = "${credentials.accessKeyId}:${credentials.secretAccessKey}"\n`, {
      mode: 0o600,
    });
    const blobDir = join(
      dir,
      'registry',
      'data',
      'docker',
      'registry',
      'v2',
      'blobs',
      'sha256',
      archive.sha256.slice(0, 2),
      archive.sha256,
    );
    const [operator, reference] = await Promise.all([
      bundle('restore-operator', dir),
      bundle('restore-reference', dir),
    ]);
    let pushes = 0;
    const worker = async (script: string): Promise<WorkerResult> => {
      const path = `bench/${script === operator ? 'ours' : 'ref'}-${pushes++}`;
      const args: RestoreWorkerArgs = {
        s3: { endpoint: minio.endpoint, bucket: 'bench', key, credentials },
        registryUrl,
        repository: `${registry!.host}/${path}`,
        archive: { sizeBytes: archive.sizeBytes, sha256: archive.sha256, createdAt: createdAt.toISOString() },
        curlConfig,
      };
      // The registry's page-cache writeback from the previous push must not land on this one.
      await run('sync');
      // Ours runs as the restore Job runs it: with the Job's NODE_OPTIONS (see src/actions/shared/action-job.ts).
      const env = script === operator ? { ...process.env, NODE_OPTIONS: JOB_NODE_OPTIONS } : process.env;
      const { stdout, stderr } = await run(process.execPath, [script, JSON.stringify(args)], {
        maxBuffer: 1 << 20,
        env,
      });
      if (stderr) process.stderr.write(stderr);
      const result = JSON.parse(stdout.trim().split('\n').pop()!) as WorkerResult;
      if (result.bytes !== archive.sizeBytes)
        throw new Error(`${script} copied ${result.bytes} of ${archive.sizeBytes} bytes`);
      const head = await fetch(`${registryUrl}/v2/${path}/blobs/sha256:${archive.sha256}`, { method: 'HEAD' });
      if (head.status !== 200 || Number(head.headers.get('content-length')) !== archive.sizeBytes) {
        throw new Error(
          `after ${script}, the registry answers ${head.status} (${head.headers.get('content-length')} bytes) for the layer in ${path}`,
        );
      }
      // Deleting through the API would only unlink it from the repository; the next push must
      // find no blob data at all, as a registry that never held this archive would.
      await rm(blobDir, { recursive: true });
      return result;
    };
    // The first copy also pays MinIO's and the registry's own warm-up.
    await worker(reference);
    await worker(operator);
    const ours: WorkerResult[] = [];
    const refs: WorkerResult[] = [];
    const throughput = (r: WorkerResult) => archive.sizeBytes / MiB / (r.ms / 1000);
    for (let i = 0; i < rounds; i++) {
      // Alternating who goes first, so neither side always follows the other's writeback.
      if (i % 2 === 0) {
        refs.push(await worker(reference));
        ours.push(await worker(operator));
      } else {
        ours.push(await worker(operator));
        refs.push(await worker(reference));
      }
      process.stderr.write(
        `restore round ${i + 1}: reference ${throughput(refs[i]!).toFixed(0)} MiB/s, operator ${throughput(ours[i]!).toFixed(0)} MiB/s (ratio ${(refs[i]!.ms / ours[i]!.ms).toFixed(2)}), operator peak RSS ${(ours[i]!.peakRssBytes / MiB).toFixed(0)} MiB\n`,
      );
    }
    const bare = await bareNodePeakRss();
    const ratios = ours.map((o, i) => (refs[i]!.ms / o.ms).toFixed(2)).join(', ');
    return [
      {
        name: `restore data path throughput, ${(archive.sizeBytes / 2 ** 30).toFixed(2)} GiB archive from MinIO into a registry (median of ${rounds}; ratios ${ratios})`,
        value: median(ours.map(throughput)),
        unit: 'MiB/s',
        baseline: median(refs.map(throughput)),
        baselineName: 'curl GET piped into a curl monolithic blob PUT, layer only',
        target: { minRatio: 0.8 },
      },
      {
        name: 'restore Job peak RSS during that copy (max of rounds)',
        value: Math.max(...ours.map((r) => r.peakRssBytes)) / MiB,
        unit: 'MiB',
        baseline: bare / MiB,
        baselineName: 'bare node start-up',
        target: { maxValue: 150 },
      },
    ];
  } finally {
    admin.destroy();
    await registry?.stop();
    await minio.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
