import { basename } from 'node:path';
import type { RestoreRecord } from '../../api/checkpoint.js';
import type { Clock } from '../../clock/clock.js';
import { S3_SECRET_DIR } from '../shared/storage-input.js';
import { type RestoreJobInput } from './job-input.js';
import { REGISTRY_SECRET_DIR } from '../shared/registry-secret.js';
import type { EventRecorder } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { upsertRestoreRecord } from '../../status/restore-records.js';
import type { Logger } from '../../observability/logger.js';
import { withSpan } from '../../observability/tracing.js';
import { credentialsForRegistry } from '../../oci/docker-config.js';
import { parseRepository } from '../../oci/image-reference.js';
import { CheckpointImageError, pushCheckpointImage } from '../../oci/push-checkpoint-image.js';
import { RegistryClient } from '../../oci/registry-client.js';
import { RegistryError } from '../../oci/registry-error.js';
import { type ArchiveBackend, BackendError } from '../../storage/backend.js';
import { backendFor } from '../shared/backend-for.js';
import { eventTarget, JobFailure, readCheckpoint } from '../shared/checkpoint-object.js';
import { readRegistrySecretFiles } from '../shared/registry-secret-files.js';

export interface RestoreActionDeps {
  input: RestoreJobInput;
  lean: LeanKubeClient;
  events?: EventRecorder;
  clock: Clock;
  log: Logger;
  backend?: ArchiveBackend;
  s3SecretDir?: string;
  registrySecretDir?: string;
}

export type RestoreActionResult =
  | { outcome: 'pushed'; image: string; sizeBytes: number }
  | { outcome: 'failed'; reason: string; message: string }
  | { outcome: 'skipped'; why: string };

/**
 * One restore's data path: fetch the archive, verify its size and sha256 against what the
 * Checkpoint recorded while pushing it as the single layer of a checkpoint image (the registry
 * commits the layer only once both match), then record the image by digest in the Checkpoint's
 * restore record. Pointing the pod at it is the dispatcher's step. Re-running it is safe: an
 * attempt that already has a result is left alone, and the image is the same bytes every time.
 */
export async function runRestoreAction(deps: RestoreActionDeps): Promise<RestoreActionResult> {
  const { input, log } = deps;
  const ref = { namespace: input.checkpoint.namespace, name: input.checkpoint.name };
  const current = await readCheckpoint(deps.lean, ref);
  if (!current || current.metadata.uid !== input.checkpoint.uid)
    return { outcome: 'skipped', why: 'the Checkpoint no longer exists' };
  const existing = current.status?.restores?.find((r) => r.jobName === input.jobName);
  if (existing && (existing.result === 'Succeeded' || existing.result === 'Failed' || existing.image)) {
    return { outcome: 'skipped', why: `this restore attempt already has a result (${existing.result})` };
  }
  const now = () => new Date(deps.clock.now()).toISOString();
  const write = (fields: Partial<RestoreRecord>) =>
    withSpan('write restore record', { result: fields.result, reason: fields.reason }, () =>
      upsertRestoreRecord(deps.lean, ref, input.jobName, (r) => ({
        podName: input.pod.name,
        namespace: input.pod.namespace,
        podUid: input.pod.uid,
        containerName: input.containerName,
        request: input.request,
        ...r,
        startTime: r?.startTime ?? now(),
        result: r?.result ?? 'Running',
        ...fields,
      })),
    );
  let image: string;
  try {
    const archive = current.status?.archive;
    if (!archive || archive.sha256 !== input.archive.sha256 || archive.uri !== input.archive.uri) {
      throw new JobFailure(
        'ArchiveChanged',
        `Checkpoint ${ref.namespace}/${ref.name} no longer records archive ${input.archive.uri}`,
      );
    }
    await write({
      result: 'Running',
      reason: 'Fetching',
      message: `fetching ${input.archive.uri} (${input.archive.sizeBytes} bytes)`,
    });
    const backend = deps.backend ?? (await backendFor(input.storage, deps.s3SecretDir ?? S3_SECRET_DIR));
    if (backend.uri(input.archive.key) !== input.archive.uri) {
      throw new JobFailure(
        'ArchiveLocationUnknown',
        `the storage settings lead to ${backend.uri(input.archive.key)}, not to the recorded ${input.archive.uri}`,
      );
    }
    const repository = parseRepository(input.registry.repository);
    const files = await readRegistrySecretFiles(deps.registrySecretDir ?? REGISTRY_SECRET_DIR, {
      credentials: input.registry.credentials === 'secret',
      caBundle: input.registry.caBundle,
    });
    const credentials = files.dockerConfig ? credentialsForRegistry(files.dockerConfig, repository.host) : undefined;
    if (input.registry.credentials === 'secret' && !credentials) {
      throw new JobFailure(
        'RegistryCredentialsNotFound',
        `the push Secret has no credentials for registry ${repository.host}`,
      );
    }
    const client = new RegistryClient({
      repository: input.registry.repository,
      insecure: input.registry.insecure,
      ...(credentials ? { credentials } : {}),
      ...(files.ca ? { ca: files.ca } : {}),
    });
    log.info(
      { uri: input.archive.uri, repository: input.registry.repository },
      'fetching the archive and pushing the checkpoint image',
    );
    const pushed = await withSpan(
      'fetch, verify and push image',
      { uri: input.archive.uri, repository: input.registry.repository, bytes: input.archive.sizeBytes },
      async () =>
        pushCheckpointImage({
          client,
          archive: await backend.get(input.archive.key),
          expected: { sizeBytes: input.archive.sizeBytes, sha256: input.archive.sha256 },
          containerName: input.containerName,
          fileName: basename(input.archive.key),
          createdAt: input.archive.createdAt,
          tag: input.registry.tag,
        }).finally(() => client.close()),
    );
    image = pushed.reference;
  } catch (err) {
    const { reason, message } = classify(err);
    log.error({ reason }, message);
    await write({ result: 'Failed', reason, message, completionTime: now() });
    deps.events?.record(
      eventTarget(current),
      'Warning',
      reason,
      `restore of pod ${input.pod.namespace}/${input.pod.name} failed: ${message}`,
    );
    return { outcome: 'failed', reason, message };
  }
  // Apart from the push: an API error while recording it is not a failed restore. The client
  // repeats the write while the API server is away; if it stays away the Job runs again and
  // pushes the same bytes to the same digest.
  const message = `checkpoint image ${image} pushed; the archive's ${input.archive.sizeBytes} bytes matched sha256 ${input.archive.sha256}`;
  await write({ result: 'Running', image, reason: 'ImagePushed', message });
  log.info({ image }, 'checkpoint image pushed');
  deps.events?.record(
    eventTarget(current),
    'Normal',
    'ImagePushed',
    `restore of pod ${input.pod.namespace}/${input.pod.name}: ${message}`,
  );
  return { outcome: 'pushed', image, sizeBytes: input.archive.sizeBytes };
}

function classify(err: unknown): { reason: string; message: string } {
  if (
    err instanceof JobFailure ||
    err instanceof RegistryError ||
    err instanceof BackendError ||
    err instanceof CheckpointImageError
  )
    return { reason: err.reason, message: err.message };
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT')
    return { reason: 'ArchiveMissing', message: `the archive is not in storage: ${(err as Error).message}` };
  return { reason: 'RestoreError', message: `restoring failed: ${(err as Error)?.message ?? String(err)}` };
}
