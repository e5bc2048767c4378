import type { CheckpointPolicyStatus } from '../api/checkpoint-policy.js';
import { API_GROUP, API_VERSION, CHECKPOINT_POLICY_PLURAL } from '../api/constants.js';
import { ConflictError, isConflict } from '../kube/errors.js';
import type { LeanKubeClient } from '../kube/lean-client.js';

/** A status field set to null is removed by the merge patch. */
export type PolicyStatusPatch = { [K in keyof CheckpointPolicyStatus]: CheckpointPolicyStatus[K] | null };

export function policyPath(name: string): string {
  return `/apis/${API_GROUP}/${API_VERSION}/${CHECKPOINT_POLICY_PLURAL}/${name}`;
}

/**
 * Merges fields into a CheckpointPolicy's status. The dispatcher and the sweep both write its
 * conditions, and a merge patch replaces the whole list: with a resourceVersion the write only
 * lands on the object the caller read, so neither drops the other's condition (a ConflictError
 * tells the caller to re-read and write again).
 */
export async function patchPolicyStatus(
  api: LeanKubeClient,
  name: string,
  status: PolicyStatusPatch,
  resourceVersion?: string,
): Promise<void> {
  try {
    await api.mergePatch(`${policyPath(name)}/status`, {
      ...(resourceVersion ? { metadata: { resourceVersion } } : {}),
      status,
    });
  } catch (err) {
    if (isConflict(err)) throw new ConflictError(`CheckpointPolicy ${name} changed while being updated`);
    throw err;
  }
}
