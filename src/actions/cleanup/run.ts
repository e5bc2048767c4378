import { API_GROUP_VERSION, CHECKPOINT_KIND } from '../../api/constants.js';
import type { Clock } from '../../clock/clock.js';
import type { CleanupJobInput } from './job-input.js';
import { REGISTRY_SECRET_DIR } from '../shared/registry-secret.js';
import { patchCheckpointStatus } from '../../status/checkpoint-status-writer.js';
import type { EventRecorder, EventTarget } from '../../kube/events.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import type { Logger } from '../../observability/logger.js';
import { withSpan } from '../../observability/tracing.js';
import { deleteCheckpointImage } from '../../oci/delete-checkpoint-image.js';
import { credentialsForRegistry } from '../../oci/docker-config.js';
import { parseImageReference } from '../../oci/image-reference.js';
import { RegistryClient } from '../../oci/registry-client.js';
import { RegistryError } from '../../oci/registry-error.js';
import { archivePrefix } from '../../storage/archive-key.js';
import { type ArchiveBackend, assertSafeKey, BackendError } from '../../storage/backend.js';
import { JobFailure, readCheckpoint } from '../shared/checkpoint-object.js';
import { readRegistrySecretFiles } from '../shared/registry-secret-files.js';

export interface CleanupDeps {
  input: CleanupJobInput;
  /** Where the per-Job Secret's registry keys are (default REGISTRY_SECRET_DIR). */
  registrySecretDir?: string;
  /** The backend, or how to open it: opening S3 reads its Secret, which fails like any storage step. */
  backend: ArchiveBackend | (() => Promise<ArchiveBackend>);
  lean: LeanKubeClient;
  events?: EventRecorder;
  clock: Clock;
  log: Logger;
}

export type CleanupResult = { ok: true; deleted: string[] } | { ok: false; reason: string; message: string };

/**
 * Deletes every archive of one deleted Checkpoint: the recorded one, and whatever else lies under
 * the Checkpoint's own prefix (an archive stored by a checkpoint Job that never got to record it,
 * the leftovers of an interrupted write); then the checkpoint images its restores pushed.
 * Re-running it is safe: what is already gone counts as deleted. A failure is written into the
 * Checkpoint's status as phase Deleting with its reason, and the caller exits non-zero so the Job
 * controller retries with its backoff while the finalizer holds the Checkpoint.
 */
export async function runCleanup(deps: CleanupDeps): Promise<CleanupResult> {
  const { input, log } = deps;
  const ref = input.checkpoint;
  const target: EventTarget = {
    apiVersion: API_GROUP_VERSION,
    kind: CHECKPOINT_KIND,
    namespace: ref.namespace,
    name: ref.name,
    uid: ref.uid,
  };
  const started = deps.clock.now();
  // The status to report a failure in: this very Checkpoint (same uid) while it is being deleted.
  // Once it is gone, its archives are still deleted, with nothing left to report to.
  let deleting = false;
  try {
    const current = await readCheckpoint(deps.lean, ref);
    if (current?.metadata.uid === ref.uid) {
      // Only a deleted Checkpoint's archives may go; a cleanup Job for a live one is a bug.
      if (!current.metadata.deletionTimestamp)
        throw new JobFailure(
          'CheckpointNotDeleted',
          `Checkpoint ${ref.namespace}/${ref.name} is not being deleted; its archive is kept`,
        );
      deleting = true;
    }
    const backend = typeof deps.backend === 'function' ? await deps.backend() : deps.backend;
    const prefix = archivePrefix(ref);
    const { deleted, incomplete } = await withSpan('delete archives', { prefix, recorded: input.key }, () =>
      deleteArchives(backend, prefix, input.key),
    );
    const what =
      deleted.length === 0
        ? `no archive was left under ${backend.uri(prefix)}`
        : `deleted ${deleted.map((k) => backend.uri(k)).join(', ')}`;
    const message = incomplete > 0 ? `${what}, and ${incomplete} incomplete write(s)` : what;
    log.info({ deleted, incomplete, ms: deps.clock.now() - started }, message);
    deps.events?.record(target, 'Normal', 'ArchiveDeleted', message);
    if (input.images && input.images.length > 0) {
      const images = await withSpan('delete checkpoint images', { count: input.images.length }, () =>
        deleteImages(input, deps.registrySecretDir ?? REGISTRY_SECRET_DIR),
      );
      if (images.deleted.length > 0) {
        const text = `deleted checkpoint image(s) ${images.deleted.join(', ')} from the registry`;
        log.info({ images: images.deleted }, text);
        deps.events?.record(target, 'Normal', 'CheckpointImagesDeleted', text);
      }
      if (images.retained.length > 0) {
        const text = `checkpoint image(s) left in the registry, delete them there: ${images.retained.map((r) => `${r.reference} (${r.reason}: ${r.message})`).join('; ')}`;
        log.warn({ images: images.retained.map((r) => r.reference) }, text);
        deps.events?.record(target, 'Warning', 'CheckpointImagesRetained', text);
      }
    }
    return { ok: true, deleted };
  } catch (err) {
    const { reason, message } = classify(err);
    const full = `cannot delete what Checkpoint ${ref.namespace}/${ref.name} stored: ${message}; the cleanup Job retries with backoff`;
    log.error({ reason }, full);
    if (deleting) {
      await patchCheckpointStatus(deps.lean, ref, { phase: 'Deleting', reason, message: full }).catch((e: Error) =>
        log.warn({ err: e.message }, 'could not record the failure in the Checkpoint status'),
      );
    }
    deps.events?.record(target, 'Warning', reason, full);
    return { ok: false, reason, message: full };
  }
}

/**
 * The recorded key is checked before anything is deleted: a key outside the Checkpoint's prefix
 * (a hand-edited status, a bug) would otherwise delete another Checkpoint's archive.
 */
async function deleteArchives(
  backend: ArchiveBackend,
  prefix: string,
  recorded: string | undefined,
): Promise<{ deleted: string[]; incomplete: number }> {
  const keys = new Set<string>();
  if (recorded !== undefined) {
    try {
      assertSafeKey(recorded);
    } catch (err) {
      throw new JobFailure('InvalidKey', (err as Error).message);
    }
    if (!recorded.startsWith(prefix))
      throw new JobFailure(
        'InvalidKey',
        `the recorded archive key ${JSON.stringify(recorded)} is not under the Checkpoint's prefix ${prefix}`,
      );
    keys.add(recorded);
  }
  for await (const listed of backend.list(prefix)) {
    if (listed.key.startsWith(prefix)) keys.add(listed.key);
  }
  for (const key of keys) await backend.delete(key);
  const incomplete = (await backend.removeIncomplete?.(prefix)) ?? 0;
  return { deleted: [...keys], incomplete };
}

/**
 * Deletes the images restores pushed. A registry that is down, or failing on its side, fails the
 * run so the Job controller tries again; a refusal that another try would meet again (deletes
 * disabled, credentials without delete rights, a certificate not trusted) leaves the image and
 * says so, rather than hold the Checkpoint for ever.
 */
async function deleteImages(
  input: CleanupJobInput,
  secretDir: string,
): Promise<{ deleted: string[]; retained: { reference: string; reason: string; message: string }[] }> {
  const { dockerConfig: config, ca } = await readRegistrySecretFiles(secretDir, {
    credentials: input.registryCredentials ?? false,
    caBundle: (input.images ?? []).some((i) => i.caBundle),
  });
  const deleted: string[] = [];
  const retained: { reference: string; reason: string; message: string }[] = [];
  for (const image of input.images ?? []) {
    const ref = parseImageReference(image.reference);
    const credentials = config ? credentialsForRegistry(config, ref.host) : undefined;
    const client = new RegistryClient({
      repository: `${ref.host}/${ref.path}`,
      insecure: image.insecure,
      ...(credentials ? { credentials } : {}),
      ...(image.caBundle && ca ? { ca } : {}),
    });
    try {
      await deleteCheckpointImage(client, ref.digest!);
      deleted.push(image.reference);
    } catch (err) {
      if (!(err instanceof RegistryError) || isTransient(err)) throw err;
      retained.push({ reference: image.reference, reason: err.reason, message: err.message });
    } finally {
      client.close();
    }
  }
  return { deleted, retained };
}

function isTransient(err: RegistryError): boolean {
  const status = err.details.status;
  return err.reason === 'RegistryUnreachable' || status === 429 || (status !== undefined && status >= 500);
}

function classify(err: unknown): { reason: string; message: string } {
  if (err instanceof JobFailure || err instanceof BackendError || err instanceof RegistryError)
    return { reason: err.reason, message: err.message };
  return { reason: 'CleanupFailed', message: (err as Error)?.message ?? String(err) };
}
