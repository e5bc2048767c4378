import type { CheckpointPolicy } from '../../api/checkpoint-policy.js';
import type { WorkKey } from '../work-key.js';

/** Which events the policy reconciler wants to hear: its own policy's changes. */
export const policyWatches = {
  policy(policy: CheckpointPolicy): WorkKey[] {
    return [{ kind: 'policy', name: policy.metadata.name }];
  },
};
