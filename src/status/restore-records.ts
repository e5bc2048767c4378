import type { Checkpoint, RestoreRecord } from '../api/checkpoint.js';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../api/constants.js';
import { patchCheckpointStatus } from './checkpoint-status-writer.js';
import { ConflictError, isNotFound } from '../kube/errors.js';
import type { LeanKubeClient } from '../kube/lean-client.js';

/** status.restores keeps this many attempts, newest last (the CRD's limit). */
export const MAX_RESTORE_RECORDS = 20;

/** Returns the records with the one for `jobName` replaced (or appended), oldest dropped first. */
export function withRestoreRecord(records: RestoreRecord[] | undefined, record: RestoreRecord): RestoreRecord[] {
  const list = (records ?? []).filter((r) => r.jobName !== record.jobName);
  list.push(record);
  return list.slice(-MAX_RESTORE_RECORDS);
}

/**
 * Writes one restore attempt into a Checkpoint's status.restores. The dispatcher and the restore
 * Job both write there, so each write is a read-modify-write pinned to the resourceVersion it
 * read, retried on conflict: neither can drop the other's record. Resolves false when the
 * Checkpoint is gone.
 */
export async function upsertRestoreRecord(
  lean: LeanKubeClient,
  ref: { namespace: string; name: string },
  jobName: string,
  update: (existing: RestoreRecord | undefined) => RestoreRecord,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    let current: Checkpoint;
    try {
      current = await lean.get<Checkpoint>(
        `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ref.namespace}/${CHECKPOINT_PLURAL}/${ref.name}`,
      );
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    const existing = current.status?.restores?.find((r) => r.jobName === jobName);
    const restores = withRestoreRecord(current.status?.restores, { ...update(existing), jobName });
    try {
      await patchCheckpointStatus(lean, ref, { restores }, current.metadata.resourceVersion);
      return true;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= 9) throw err;
    }
  }
}
