import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { KubeConfig } from '@kubernetes/client-node';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  CHECKPOINT_POLICY_KIND,
  CHECKPOINT_POLICY_PLURAL,
} from '../../src/api/constants.js';
import { systemClock } from '../../src/clock/clock.js';
import { S3_SECRET_KEYS } from '../../src/actions/shared/storage-input.js';
import { type SweepJobInput, sweepJobInputSchema } from '../../src/actions/sweep/job-input.js';
import { s3BackendFor } from '../../src/actions/shared/s3-backend-for.js';
import { runSweep } from '../../src/actions/sweep/run.js';
import { fromKubeConfig } from '../../src/kube/credentials.js';
import { EventRecorder } from '../../src/kube/events.js';
import { LeanKubeClient } from '../../src/kube/lean-client.js';
import { createLogger } from '../../src/observability/logger.js';
import { archiveKey } from '../../src/storage/archive-key.js';
import type { ArchiveBackend } from '../../src/storage/backend.js';
import { FilesystemBackend } from '../../src/storage/filesystem.js';
import type { S3Backend } from '../../src/storage/s3.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { startMinio } from '../cluster/minio.js';
import { createBucket } from '../e2e/support/s3.js';
import type { Figure } from './figures.js';
import { median } from './workers/bundle.js';

const run = promisify(execFile);
/** The sweep's own bound on deletes in flight (DELETE_CONCURRENCY in src/actions/sweep/run.ts); the baselines use it too. */
const CONCURRENCY = 16;
const BODY = Buffer.alloc(1024, 0x61);

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** n archive keys in the operator's layout, each under a uid no Checkpoint has. */
function orphanKeys(n: number, tag: string): string[] {
  const time = new Date('2026-11-26T12:00:00Z');
  return Array.from({ length: n }, (_, i) =>
    archiveKey({
      checkpoint: { namespace: 'bench', name: `ckpt-${i}`, uid: `orphan-${tag}-${i.toString().padStart(5, '0')}` },
      target: { namespace: 'bench', podName: `app-${i % 10}`, containerName: 'main' },
      time,
    }),
  );
}

/** One storage under test: how to fill it, how the Job's code sweeps it, how a bare loop empties it. */
interface Storage {
  label: string;
  /** spec.storage of the policy. */
  policyStorage: Record<string, unknown>;
  jobStorage: NonNullable<SweepJobInput['storage']>;
  fill(keys: string[]): Promise<void>;
  /** Waits for what the fill (or the last phase) left the storage doing in the background. */
  settle(): Promise<void>;
  /** The backend as the sweep Job builds it (measured: a Job builds it too). */
  backend(): Promise<ArchiveBackend>;
  /** The bare loop: list everything, delete each, at CONCURRENCY; returns how many it deleted. */
  baseline(): Promise<number>;
  /** Objects left (checked after each phase). */
  remaining(): Promise<number>;
  /** Clears what a phase may leave besides objects (empty directories), so no phase inherits it. */
  reset?(): Promise<void>;
  baselineName: string;
  /** A second bare loop doing more of what the sweep does, reported beside the figure (no target). */
  fuller?: { name: string; run(): Promise<number> };
}

interface Round {
  operatorMs: number;
  baselineMs: number;
  fullerMs: number | undefined;
}

/**
 * Retention sweep over orphan archives: a CheckpointPolicy with retention
 * `{ maxCount: 1, deleteOrphans: true }` whose storage holds N archives (1 KiB each, keys in the
 * operator's layout) that no Checkpoint owns. Measured: the sweep Job's code (`runSweep`, in
 * process) end to end — the backend built as the Job builds it, the policy read, the storage
 * listed, the Checkpoints listed, all N archives deleted at the sweep's concurrency, the policy
 * status written and the OrphanArchives Event sent — against a real kube-apiserver. Baseline, in
 * the same process on the same storage: a bare loop with the same library listing the same N
 * objects and deleting each at the same concurrency (S3: @aws-sdk/client-s3 ListObjectsV2 pages,
 * then DeleteObject per key; filesystem: recursive readdir, then unlink per file). The
 * filesystem backend's delete also removes the directories an archive leaves empty, which that
 * loop does not: a second, untargeted figure compares the sweep with a loop that does. The objects
 * are re-created before every phase; phases alternate which goes first; one storage at a time (S3,
 * then the filesystem); the ratio is taken per round and the median round reported.
 */
export async function sweepBenchmark(
  cp: ControlPlane,
  opts: { archives?: number; rounds?: number } = {},
): Promise<Figure[]> {
  const n = opts.archives ?? 10_000;
  const rounds = opts.rounds ?? 3;
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const dir = await mkdtemp(join(tmpdir(), 'bench-sweep-'));
  const figures: Figure[] = [];
  try {
    // S3 first, then the filesystem: never both at once.
    const minio = await startMinio({ dir });
    const admin = new S3Client({
      endpoint: minio.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
    });
    try {
      await createBucket(admin, 'bench');
      // The per-Job Secret's files, as the sweep CronJob mounts them.
      const secretDir = join(dir, 's3-secret');
      await mkdir(secretDir);
      await writeFile(join(secretDir, S3_SECRET_KEYS.accessKeyId), minio.accessKeyId);
      await writeFile(join(secretDir, S3_SECRET_KEYS.secretAccessKey), minio.secretAccessKey);
      const jobStorage = {
        backend: 's3',
        endpoint: minio.endpoint,
        bucket: 'bench',
        prefix: '',
        forcePathStyle: true,
        credentials: 'secret',
        caBundle: false,
      } as const;
      const s3: Storage = {
        label: 'S3 (MinIO)',
        policyStorage: { backend: 's3', s3: { endpoint: minio.endpoint, bucket: 'bench', forcePathStyle: true } },
        jobStorage,
        fill: (keys) =>
          pool(keys, 32, (key) => admin.send(new PutObjectCommand({ Bucket: 'bench', Key: key, Body: BODY }))),
        // MinIO removes deleted objects' files in the background: the next phase must not pay for them.
        settle: async () => {
          await settleDisk();
          await idle(minio.process.pid);
        },
        backend: () => s3BackendFor(jobStorage, secretDir),
        baseline: async () => {
          const client = new S3Client({
            endpoint: minio.endpoint,
            region: 'us-east-1',
            forcePathStyle: true,
            credentials: { accessKeyId: minio.accessKeyId, secretAccessKey: minio.secretAccessKey },
          });
          try {
            const keys: string[] = [];
            let token: string | undefined;
            do {
              const page = await client.send(
                new ListObjectsV2Command({ Bucket: 'bench', ...(token ? { ContinuationToken: token } : {}) }),
              );
              for (const o of page.Contents ?? []) keys.push(o.Key!);
              token = page.IsTruncated ? page.NextContinuationToken : undefined;
            } while (token);
            await pool(keys, CONCURRENCY, (key) => client.send(new DeleteObjectCommand({ Bucket: 'bench', Key: key })));
            return keys.length;
          } finally {
            client.destroy();
          }
        },
        remaining: async () =>
          (await admin.send(new ListObjectsV2Command({ Bucket: 'bench', MaxKeys: 10 }))).KeyCount ?? 0,
        baselineName: `bare @aws-sdk/client-s3 loop: ListObjectsV2 pages, then DeleteObject per key, concurrency ${CONCURRENCY}`,
      };
      figures.push(...(await sweepFigures(kc, s3, n, rounds)));
    } finally {
      admin.destroy();
      await minio.stop();
    }

    const root = join(dir, 'pvc');
    await mkdir(root, { mode: 0o700 });
    const fs: Storage = {
      label: 'filesystem (pvc)',
      policyStorage: { backend: 'pvc', pvc: { claimName: 'bench' } },
      jobStorage: { backend: 'pvc', claimName: 'bench' },
      fill: (keys) =>
        pool(keys, CONCURRENCY, async (key) => {
          const path = join(root, key);
          await mkdir(dirname(path), { recursive: true, mode: 0o700 });
          await writeFile(path, BODY, { mode: 0o600 });
        }),
      settle: settleDisk,
      // What backendFor builds for pvc, over the temp dir instead of /archive.
      backend: async () => new FilesystemBackend(root, 'pvc://bench'),
      baseline: async () => {
        const files = await filesIn(root);
        await pool(files, CONCURRENCY, (path) => unlink(path));
        return files.length;
      },
      // The backend's delete also removes the <ns>/<name>/<uid> directories an archive leaves
      // empty (so deleted Checkpoints leave no trail); the loop above leaves them all behind.
      fuller: {
        name: `bare node:fs loop: recursive readdir, then per file unlink and rmdir of its now empty <uid> and <name> directories, concurrency ${CONCURRENCY}; the <ns> directories last`,
        run: async () => {
          const files = await filesIn(root);
          const gone = (err: NodeJS.ErrnoException) => {
            if (err.code !== 'ENOTEMPTY' && err.code !== 'ENOENT') throw err;
          };
          await pool(files, CONCURRENCY, async (path) => {
            await unlink(path);
            await rmdir(dirname(path)).catch(gone);
            await rmdir(dirname(dirname(path))).catch(gone);
          });
          for (const ns of new Set(files.map((f) => dirname(dirname(dirname(f)))))) await rmdir(ns).catch(gone);
          return files.length;
        },
      },
      remaining: async () => (await filesIn(root)).length,
      reset: async () => {
        for (const entry of await readdir(root)) await rm(join(root, entry), { recursive: true });
      },
      baselineName: `bare node:fs loop: recursive readdir, then unlink per file, concurrency ${CONCURRENCY}`,
    };
    figures.push(...(await sweepFigures(kc, fs, n, rounds)));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return figures;
}

async function sweepFigures(kc: KubeConfig, storage: Storage, n: number, rounds: number): Promise<Figure[]> {
  const setup = new LeanKubeClient(fromKubeConfig(kc));
  const name = `bench-sweep-${storage.jobStorage.backend}`;
  const policy = await setup.post<CheckpointPolicy>(`/apis/${API_GROUP}/${API_VERSION}/${CHECKPOINT_POLICY_PLURAL}`, {
    apiVersion: API_GROUP_VERSION,
    kind: CHECKPOINT_POLICY_KIND,
    metadata: { name },
    spec: { retention: { maxCount: 1, deleteOrphans: true }, storage: storage.policyStorage },
  });
  await setup.close();
  const input = sweepJobInputSchema.parse({ policy: { name, uid: policy.metadata.uid }, storage: storage.jobStorage });
  const log = createLogger('bench', 'error');

  const operator = async (): Promise<number> => {
    const t0 = performance.now();
    // As src/actions/sweep/main.ts runs it: a fresh API client and recorder, the backend built from the input,
    // the Events flushed before the Job would exit.
    const lean = new LeanKubeClient(fromKubeConfig(kc));
    const events = new EventRecorder(lean, 'checkpoint-operator-job', log);
    const backend = await storage.backend();
    const result = await runSweep({ input, lean, events, clock: systemClock, log, backend });
    await events.flush();
    const ms = performance.now() - t0;
    (backend as Partial<S3Backend>).destroy?.();
    await lean.close();
    if (result.outcome !== 'swept' || result.deletedOrphans !== n)
      throw new Error(`sweep over ${storage.label}: ${JSON.stringify(result)}`);
    return ms;
  };
  const baseline = async (): Promise<number> => {
    const t0 = performance.now();
    const deleted = await storage.baseline();
    const ms = performance.now() - t0;
    if (deleted !== n) throw new Error(`baseline over ${storage.label} deleted ${deleted} of ${n}`);
    return ms;
  };
  const phase = async (tag: string, fn: () => Promise<number>): Promise<number> => {
    await storage.fill(orphanKeys(n, tag));
    await storage.settle();
    const ms = await fn();
    const left = await storage.remaining();
    if (left !== 0) throw new Error(`${tag} over ${storage.label} left ${left} objects`);
    await storage.reset?.();
    return ms;
  };

  const fuller = storage.fuller
    ? async (): Promise<number> => {
        const t0 = performance.now();
        const deleted = await storage.fuller!.run();
        const ms = performance.now() - t0;
        if (deleted !== n) throw new Error(`fuller baseline over ${storage.label} deleted ${deleted} of ${n}`);
        return ms;
      }
    : undefined;

  // A warm-up pass of each, not counted: the first pass also pays the storage's and the JIT's start-up.
  await phase('warm-ref', baseline);
  if (fuller) await phase('warm-full', fuller);
  await phase('warm-op', operator);
  const results: Round[] = [];
  for (let r = 0; r < rounds; r++) {
    // Rounds alternate: the baselines first in rounds 1 and 3, the sweep first in round 2.
    const operatorFirst = r % 2 === 1;
    let operatorMs = 0;
    if (operatorFirst) operatorMs = await phase(`op-${r}`, operator);
    const baselineMs = await phase(`ref-${r}`, baseline);
    const fullerMs = fuller ? await phase(`full-${r}`, fuller) : undefined;
    if (!operatorFirst) operatorMs = await phase(`op-${r}`, operator);
    results.push({ operatorMs, baselineMs, fullerMs });
    process.stderr.write(
      `sweep ${storage.label} round ${r + 1} (${operatorFirst ? 'sweep first' : 'baseline first'}): sweep ${seconds(operatorMs)}, baseline ${seconds(baselineMs)}, ratio ${(operatorMs / baselineMs).toFixed(2)}${
        fullerMs === undefined
          ? ''
          : `; fuller baseline ${seconds(fullerMs)}, ratio ${(operatorMs / fullerMs).toFixed(2)}`
      }\n`,
    );
  }
  const figures: Figure[] = [];
  const ratios = results.map((x) => x.operatorMs / x.baselineMs);
  const m = results[ratios.indexOf(median(ratios))]!;
  figures.push({
    name: `retention sweep deleting ${n} orphan archives, ${storage.label}: policy read, storage listed, Checkpoints listed, archives deleted, status written, Event sent (wall time, median of ${rounds} rounds; ratios ${ratios.map((x) => x.toFixed(2)).join(', ')})`,
    value: m.operatorMs / 1000,
    unit: 's',
    baseline: m.baselineMs / 1000,
    baselineName: storage.baselineName,
    target: { maxRatio: 1.5 },
  });
  if (storage.fuller) {
    const fullerRatios = results.map((x) => x.operatorMs / x.fullerMs!);
    const f = results[fullerRatios.indexOf(median(fullerRatios))]!;
    figures.push({
      name: `the same sweep, ${storage.label}, against a loop that also removes the directories left empty (same rounds; ratios ${fullerRatios.map((x) => x.toFixed(2)).join(', ')})`,
      value: f.operatorMs / 1000,
      unit: 's',
      baseline: f.fullerMs! / 1000,
      baselineName: storage.fuller.name,
      target: undefined,
    });
  }
  return figures;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** Dirty pages written out, so no phase competes with the writeback of the files made before it. */
async function settleDisk(): Promise<void> {
  await run('sync', []);
}

/** Waits (at most maxMs) until the process uses under 5% of a core over a second. */
async function idle(pid: number, maxMs = 60_000): Promise<void> {
  // utime + stime, in clock ticks (100 a second): fields 14 and 15 of /proc/<pid>/stat.
  const cpuTicks = async () => {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  };
  const deadline = Date.now() + maxMs;
  let last = await cpuTicks();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = await cpuTicks();
    if (now - last <= 5) return;
    last = now;
  }
}

/** Every file under root (recursive readdir: the directories here are real ones, no links). */
async function filesIn(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}
