import type { CheckpointPolicy } from '../api/checkpoint-policy.js';
import { isNotFound } from '../kube/errors.js';
import type { LeanKubeClient } from '../kube/lean-client.js';
import type { Lister } from '../kube/lister.js';
import { apiPaths } from '../kube/paths.js';

export type PolicyLookup = { name: string; found: false } | { name: string; found: true; policy: CheckpointPolicy };

/** Cache first; a miss is confirmed live, so a policy applied together with its Checkpoint is found. */
export async function lookUpPolicy(
  policies: Lister<CheckpointPolicy>,
  lean: LeanKubeClient,
  name: string,
): Promise<PolicyLookup> {
  const cached = policies.get(name);
  if (cached) return { name, found: true, policy: cached };
  try {
    return { name, found: true, policy: await lean.get<CheckpointPolicy>(apiPaths.policy(name)) };
  } catch (err) {
    if (isNotFound(err)) return { name, found: false };
    throw err;
  }
}
