import { API_GROUP_VERSION, CHECKPOINT_KIND } from '../api/constants.js';
import type { Clock } from '../clock/clock.js';
import type { CleanupJobInput } from '../jobs-contract/cleanup-job-input.js';
import { patchCheckpointStatus } from '../kube/checkpoint-status-writer.js';
import type { EventRecorder, EventTarget } from '../kube/events.js';
import type { LeanKubeClient } from '../kube/lean-client.js';
import type { Logger } from '../observability/logger.js';
import { withSpan } from '../observability/tracing.js';
import { archivePrefix } from '../storage/archive-key.js';
import { type ArchiveBackend, assertSafeKey, BackendError } from '../storage/backend.js';
import { JobFailure, readCheckpoint } from './checkpoint-object.js';

export interface CleanupDeps {
  input: CleanupJobInput;
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
 * the leftovers of an interrupted write). Re-running it is safe: what is already gone counts as
 * deleted. A failure is written into the Checkpoint's status as phase Deleting with its reason,
 * and the caller exits non-zero so the Job controller retries with its backoff while the
 * finalizer holds the Checkpoint.
 */
export async function runCleanup(deps: CleanupDeps): Promise<CleanupResult> {
  const { input, log } = deps;
  const ref = input.checkpoint;
  const target: EventTarget = { apiVersion: API_GROUP_VERSION, kind: CHECKPOINT_KIND, namespace: ref.namespace, name: ref.name, uid: ref.uid };
  const started = deps.clock.now();
  // The status to report a failure in: this very Checkpoint (same uid) while it is being deleted.
  // Once it is gone, its archives are still deleted, with nothing left to report to.
  let deleting = false;
  try {
    const current = await readCheckpoint(deps.lean, ref);
    if (current?.metadata.uid === ref.uid) {
      // Only a deleted Checkpoint's archives may go; a cleanup Job for a live one is a bug.
      if (!current.metadata.deletionTimestamp) throw new JobFailure('CheckpointNotDeleted', `Checkpoint ${ref.namespace}/${ref.name} is not being deleted; its archive is kept`);
      deleting = true;
    }
    const backend = typeof deps.backend === 'function' ? await deps.backend() : deps.backend;
    const prefix = archivePrefix(ref);
    const { deleted, incomplete } = await withSpan('delete archives', { prefix, recorded: input.key }, () => deleteArchives(backend, prefix, input.key));
    const what = deleted.length === 0 ? `no archive was left under ${backend.uri(prefix)}` : `deleted ${deleted.map((k) => backend.uri(k)).join(', ')}`;
    const message = incomplete > 0 ? `${what}, and ${incomplete} incomplete write(s)` : what;
    log.info({ deleted, incomplete, ms: deps.clock.now() - started }, message);
    deps.events?.record(target, 'Normal', 'ArchiveDeleted', message);
    return { ok: true, deleted };
  } catch (err) {
    const { reason, message } = classify(err);
    const full = `cannot delete the archive of Checkpoint ${ref.namespace}/${ref.name}: ${message}; the cleanup Job retries with backoff`;
    log.error({ reason }, full);
    if (deleting) {
      await patchCheckpointStatus(deps.lean, ref, { phase: 'Deleting', reason, message: full })
        .catch((e: Error) => log.warn({ err: e.message }, 'could not record the failure in the Checkpoint status'));
    }
    deps.events?.record(target, 'Warning', reason, full);
    return { ok: false, reason, message: full };
  }
}

/**
 * The recorded key is checked before anything is deleted: a key outside the Checkpoint's prefix
 * (a hand-edited status, a bug) would otherwise delete another Checkpoint's archive.
 */
async function deleteArchives(backend: ArchiveBackend, prefix: string, recorded: string | undefined): Promise<{ deleted: string[]; incomplete: number }> {
  const keys = new Set<string>();
  if (recorded !== undefined) {
    try {
      assertSafeKey(recorded);
    } catch (err) {
      throw new JobFailure('InvalidKey', (err as Error).message);
    }
    if (!recorded.startsWith(prefix)) throw new JobFailure('InvalidKey', `the recorded archive key ${JSON.stringify(recorded)} is not under the Checkpoint's prefix ${prefix}`);
    keys.add(recorded);
  }
  for await (const listed of backend.list(prefix)) {
    if (listed.key.startsWith(prefix)) keys.add(listed.key);
  }
  for (const key of keys) await backend.delete(key);
  const incomplete = (await backend.removeIncomplete?.(prefix)) ?? 0;
  return { deleted: [...keys], incomplete };
}

function classify(err: unknown): { reason: string; message: string } {
  if (err instanceof JobFailure || err instanceof BackendError) return { reason: err.reason, message: err.message };
  return { reason: 'CleanupFailed', message: (err as Error)?.message ?? String(err) };
}
