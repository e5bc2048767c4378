import type { CheckpointStatus } from '../api/checkpoint.js';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../api/constants.js';
import { ConflictError, isConflict } from '../kube/errors.js';
import type { LeanKubeClient } from '../kube/lean-client.js';

/**
 * Merges fields into a Checkpoint's status. With a resourceVersion the write only lands on the
 * object the caller decided from: a dispatcher with a stale cache can then never overwrite the
 * result a Job has just written (it gets a ConflictError, re-reads and decides again).
 */
export async function patchCheckpointStatus(
  api: LeanKubeClient,
  ref: { namespace: string; name: string },
  status: CheckpointStatus,
  resourceVersion?: string,
): Promise<void> {
  try {
    await api.mergePatch(
      `/apis/${API_GROUP}/${API_VERSION}/namespaces/${ref.namespace}/${CHECKPOINT_PLURAL}/${ref.name}/status`,
      { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status },
    );
  } catch (err) {
    if (isConflict(err)) throw new ConflictError(`Checkpoint ${ref.namespace}/${ref.name} changed while being updated`);
    throw err;
  }
}
