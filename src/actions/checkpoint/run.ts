import { readFile, rm } from 'node:fs/promises';
import type { Archive, Checkpoint, CheckpointStatus } from '../../api/checkpoint.js';
import { failedStatus, succeededStatus } from '../../api/checkpoint-status.js';
import type { Clock } from '../../clock/clock.js';
import { type CheckpointJobInput, KUBELET_CA_DIR } from './job-input.js';
import { S3_SECRET_DIR } from '../shared/storage-input.js';
import { patchCheckpointStatus } from '../../status/checkpoint-status-writer.js';
import { ConflictError } from '../../kube/errors.js';
import type { CredentialSource } from '../../kube/credentials.js';
import type { EventRecorder } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import {
  checkArchivePath,
  KubeletError,
  type KubeletEndpoint,
  requestCheckpoint,
} from '../../kubelet/checkpoint-client.js';
import type { Logger } from '../../observability/logger.js';
import { withSpan } from '../../observability/tracing.js';
import { archiveKey } from '../../storage/archive-key.js';
import type { ArchiveBackend } from '../../storage/backend.js';
import { BackendError } from '../../storage/backend.js';
import { backendFor } from '../shared/backend-for.js';
import { eventTarget, JobFailure, readCheckpoint } from '../shared/checkpoint-object.js';
import { KUBELET_RETRY_MS, kubeletCouldNotActYet, retrying, STORAGE_RETRY_MS, storageMayRecover } from './retrying.js';
import { storeArchive } from './store-archive.js';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface CheckpointActionDeps {
  input: CheckpointJobInput;
  credentials: CredentialSource;
  lean: LeanKubeClient;
  /** Where the Job reports its result as an Event on the Checkpoint. */
  events?: EventRecorder;
  nodeIP: string | undefined;
  clock: Clock;
  log: Logger;
  /** Where the node's kubelet checkpoint directory is visible to this process. */
  kubeletDirectory?: string;
  /** Where the kubelet CA bundle Secret is mounted (KUBELET_CA_DIR in a Job). */
  kubeletCADirectory?: string;
  backend?: ArchiveBackend;
  /** Where the per-Job S3 Secret is mounted (tests point it elsewhere). */
  s3SecretDir?: string;
}

export type ActionResult =
  | { outcome: 'succeeded'; archive: Archive }
  | { outcome: 'failed'; reason: string; message: string }
  | { outcome: 'skipped'; why: string };

/**
 * One checkpoint, start to finish: ask the kubelet, stream its archive into storage while hashing
 * and reading its metadata, remove the kubelet's copy, record the result. Re-running it after a
 * crash is safe: a Checkpoint that already has a result is left alone.
 */
export async function runCheckpointAction(deps: CheckpointActionDeps): Promise<ActionResult> {
  const { input, log } = deps;
  const ref = { namespace: input.checkpoint.namespace, name: input.checkpoint.name };
  const current = await readCheckpoint(deps.lean, ref);
  if (!current || current.metadata.uid !== input.checkpoint.uid)
    return { outcome: 'skipped', why: 'the Checkpoint no longer exists' };
  if (current.status?.phase === 'Succeeded' || current.status?.phase === 'Failed') {
    return { outcome: 'skipped', why: `the Checkpoint is already ${current.status.phase}` };
  }

  const result = await produceArchive(deps);
  // Recording the result is apart from producing it: an API error here (the API server
  // restarting) is not a storage failure, and must never turn a stored archive into Failed. The
  // client repeats the write while the API server is away; if it stays away, this throws, the
  // Job's pod fails and the Job runs again (an archive stored but not recorded stays under the
  // Checkpoint's own prefix, which its deletion removes).
  if (result.outcome === 'succeeded') {
    const { archive } = result;
    const recorded = await withSpan('write status', { phase: 'Succeeded' }, () =>
      recordResult(deps, ref, current.metadata.uid, (latest) =>
        succeededStatus(latest, archive, new Date(deps.clock.now())),
      ),
    );
    if (recorded !== 'recorded') return decidedMeanwhile(deps, recorded, archive.uri);
    log.info({ uri: archive.uri, sizeBytes: archive.sizeBytes, sha256: archive.sha256 }, 'checkpoint stored');
    deps.events?.record(
      eventTarget(current),
      'Normal',
      'ArchiveStored',
      `stored ${archive.sizeBytes} bytes at ${archive.uri} (sha256 ${archive.sha256})`,
    );
  } else {
    const recorded = await withSpan('write status', { phase: 'Failed', reason: result.reason }, () =>
      recordResult(deps, ref, current.metadata.uid, (latest) =>
        failedStatus(latest, result.reason, result.message, new Date(deps.clock.now())),
      ),
    );
    if (recorded !== 'recorded') return decidedMeanwhile(deps, recorded);
    deps.events?.record(eventTarget(current), 'Warning', result.reason, result.message);
  }
  return result;
}

/** How many times a result is written again after the Checkpoint changed under it (a condition, a label). */
const RECORD_ATTEMPTS = 5;

/**
 * Writes the Job's result onto the Checkpoint as it is now, guarded by its resourceVersion. The
 * dispatcher may have decided the Checkpoint while this Job ran (NodeLost when its node went, a
 * timeout): a terminal phase is never overwritten, so what users and retention saw stays true. A
 * change that is not a decision (a label, an annotation) only means reading again.
 */
async function recordResult(
  deps: CheckpointActionDeps,
  ref: { namespace: string; name: string },
  uid: string | undefined,
  statusFor: (latest: Checkpoint) => CheckpointStatus,
): Promise<'recorded' | 'gone' | Checkpoint> {
  for (let attempt = 1; ; attempt++) {
    const latest = await readCheckpoint(deps.lean, ref);
    if (!latest || latest.metadata.uid !== uid) return 'gone';
    if (latest.status?.phase === 'Succeeded' || latest.status?.phase === 'Failed') return latest;
    try {
      await patchCheckpointStatus(deps.lean, ref, statusFor(latest), latest.metadata.resourceVersion);
      return 'recorded';
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= RECORD_ATTEMPTS) throw err;
    }
  }
}

/**
 * The Checkpoint was decided (or deleted) while this Job worked: its result is not recorded. An
 * archive it stored stays under the Checkpoint's own prefix, which the Checkpoint's deletion
 * removes; it is never reported as good.
 */
function decidedMeanwhile(deps: CheckpointActionDeps, latest: 'gone' | Checkpoint, storedAt?: string): ActionResult {
  const why =
    latest === 'gone'
      ? 'the Checkpoint was deleted while this Job worked; its result is not recorded'
      : `the Checkpoint was decided while this Job worked (${latest.status!.phase}: ${latest.status!.reason ?? ''}); that decision stands and this Job's result is not recorded`;
  deps.log.warn({ ...(storedAt ? { uri: storedAt } : {}) }, why);
  return { outcome: 'skipped', why };
}

/** Asks the kubelet and stores its archive; every failure here is classified into a reason. */
async function produceArchive(
  deps: CheckpointActionDeps,
): Promise<{ outcome: 'succeeded'; archive: Archive } | { outcome: 'failed'; reason: string; message: string }> {
  const { input, log } = deps;
  let kubeletPath: string | undefined;
  try {
    const endpoint = await kubeletEndpoint(deps);
    log.info({ node: input.nodeName, access: input.kubelet.access }, 'asking the kubelet for a checkpoint');
    kubeletPath = checkArchivePath(
      await withSpan(
        'kubelet checkpoint',
        { node: input.nodeName, access: input.kubelet.access, container: input.target.containerName },
        () =>
          retrying(
            () => requestCheckpoint(endpoint, { target: input.target, timeoutSeconds: input.kubelet.timeoutSeconds }),
            {
              retryable: kubeletCouldNotActYet,
              clock: deps.clock,
              budgetMs: KUBELET_RETRY_MS,
              onRetry: (err, waitMs) =>
                log.warn(
                  { reason: (err as KubeletError).reason, waitMs },
                  `the kubelet could not act on the request yet; asking again: ${(err as Error).message}`,
                ),
            },
          ),
      ),
    );
    const localPath = nodeLocal(kubeletPath, deps.kubeletDirectory);
    const backend = deps.backend ?? (await backendFor(input.storage, deps.s3SecretDir ?? S3_SECRET_DIR));
    const key = archiveKey({ checkpoint: input.checkpoint, target: input.target, time: new Date(deps.clock.now()) });
    // Each attempt starts over from the kubelet's archive, still on the node, under the same key.
    const { stored, meta } = await withSpan('store archive', { backend: input.storage.backend, key }, () =>
      retrying(() => storeArchive(localPath, backend, key), {
        retryable: storageMayRecover,
        clock: deps.clock,
        budgetMs: STORAGE_RETRY_MS,
        onRetry: (err, waitMs) =>
          log.warn(
            { reason: (err as BackendError).reason, waitMs },
            `storage cannot take the archive now; trying again from the start: ${(err as Error).message}`,
          ),
      }),
    );
    const archive: Archive = {
      backend: input.storage.backend,
      uri: stored.uri,
      key: stored.key,
      sizeBytes: stored.sizeBytes,
      sha256: stored.sha256,
      createdAt: new Date(deps.clock.now()).toISOString(),
      ...(input.storage.backend === 'local' ? { nodeName: input.nodeName } : {}),
      ...(meta.image ? { image: meta.image } : {}),
      ...(meta.runtime ? { runtime: meta.runtime } : {}),
      ...(meta.containerId ? { containerId: meta.containerId } : {}),
      ...(meta.checkpointedAt && !Number.isNaN(Date.parse(meta.checkpointedAt))
        ? { checkpointedAt: new Date(meta.checkpointedAt).toISOString() }
        : {}),
    };
    // The kubelet never deletes its archives: remove ours before reporting success, so a
    // Succeeded Checkpoint never leaves process memory behind on the node.
    await removeKubeletArchive(localPath, log);
    kubeletPath = undefined;
    return { outcome: 'succeeded', archive };
  } catch (err) {
    const { reason, message } = classify(err);
    log.error({ reason }, message);
    return { outcome: 'failed', reason, message };
  } finally {
    if (kubeletPath) await removeKubeletArchive(nodeLocal(kubeletPath, deps.kubeletDirectory), log);
  }
}

function nodeLocal(kubeletPath: string, kubeletDirectory: string | undefined): string {
  return kubeletDirectory ? kubeletPath.replace('/var/lib/kubelet/checkpoints', kubeletDirectory) : kubeletPath;
}

async function removeKubeletArchive(path: string, log: Logger): Promise<void> {
  await rm(path, { force: true }).catch((err: Error) =>
    log.warn({ err: err.message, path }, 'could not remove the kubelet archive'),
  );
}

function classify(err: unknown): { reason: string; message: string } {
  if (err instanceof KubeletError || err instanceof JobFailure || err instanceof BackendError)
    return { reason: err.reason, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT')
    return { reason: 'ArchiveMissing', message: `the kubelet's archive is not on the node: ${(err as Error).message}` };
  if (code === 'ENOSPC')
    return { reason: 'StorageFull', message: `no space left in storage: ${(err as Error).message}` };
  return { reason: 'StorageError', message: `storing the archive failed: ${(err as Error)?.message ?? String(err)}` };
}

async function kubeletEndpoint(deps: CheckpointActionDeps): Promise<KubeletEndpoint> {
  const { input } = deps;
  if (input.kubelet.access === 'proxy')
    return { access: 'proxy', credentials: deps.credentials, nodeName: input.nodeName };
  if (!deps.nodeIP) throw new JobFailure('NodeAddressUnknown', 'NODE_IP is not set: the Job cannot find its kubelet');
  const token = (await readFile(`${SA_DIR}/token`, 'utf8')).trim();
  const clusterCA = await readFile(`${SA_DIR}/ca.crt`).catch(() => undefined);
  let ca = clusterCA;
  if (input.kubelet.caBundleSecret) {
    const bundle = await readFile(`${deps.kubeletCADirectory ?? KUBELET_CA_DIR}/ca.crt`).catch(() => undefined);
    if (!bundle || bundle.length === 0) {
      throw new JobFailure(
        'KubeletCABundleNotFound',
        `Secret ${input.kubelet.caBundleSecret} (KUBELET_CA_BUNDLE_SECRET) in the Jobs' namespace does not exist or has no ca.crt`,
      );
    }
    // Either may have signed a given kubelet's certificate: node groups differ.
    ca = clusterCA ? Buffer.concat([bundle, Buffer.from('\n'), clusterCA]) : bundle;
  }
  return {
    access: 'direct',
    host: deps.nodeIP,
    port: input.kubelet.port,
    token,
    ca,
    insecureSkipTLSVerify: input.kubelet.insecureSkipTLSVerify,
    nodeName: input.nodeName,
  };
}
