import type { CustomObjectsApi } from '@kubernetes/client-node';
import type { CheckpointPolicy } from '../api/checkpoint-policy.js';
import { API_GROUP, API_VERSION, CHECKPOINT_POLICY_PLURAL } from '../api/constants.js';
import { isNotFound } from '../kube/errors.js';
import type { Lister } from '../kube/lister.js';

export type PolicyLookup = { name: string; found: false } | { name: string; found: true; policy: CheckpointPolicy };

/** Cache first; a miss is confirmed live, so a policy applied together with its Checkpoint is found. */
export async function lookUpPolicy(
  policies: Lister<CheckpointPolicy>,
  custom: CustomObjectsApi,
  name: string,
): Promise<PolicyLookup> {
  const cached = policies.get(name);
  if (cached) return { name, found: true, policy: cached };
  try {
    const policy = await custom.getClusterCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      plural: CHECKPOINT_POLICY_PLURAL,
      name,
    });
    return { name, found: true, policy: policy as CheckpointPolicy };
  } catch (err) {
    if (isNotFound(err)) return { name, found: false };
    throw err;
  }
}
