import type { V1Job } from '@kubernetes/client-node';
import type { Checkpoint } from '../../api/checkpoint.js';
import { jobOwner } from '../../kube/names.js';
import type { WorkKey } from '../work-key.js';

/**
 * Which events the Checkpoint reconciler wants to hear, as keys (as controller-runtime's
 * SetupWithManager says what a reconciler watches). The dispatcher calls these on every change.
 */
export const checkpointWatches = {
  /** A Checkpoint changed: decide it again. */
  checkpoint(c: Checkpoint): WorkKey[] {
    return [{ kind: 'checkpoint', namespace: c.metadata.namespace!, name: c.metadata.name }];
  },
  /** Its checkpoint or cleanup Job changed: the Checkpoint's next step may be due. */
  job(job: V1Job): WorkKey[] {
    const owner = jobOwner(job.metadata?.labels);
    return owner && (owner.action === 'checkpoint' || owner.action === 'cleanup')
      ? [{ kind: 'checkpoint', namespace: owner.namespace, name: owner.name }]
      : [];
  },
  /** A node removed under a Running Checkpoint: its Job can never run there (see decideCheckpoint). */
  nodeDeleted(nodeName: string | undefined, checkpoints: Iterable<Checkpoint>): WorkKey[] {
    const keys: WorkKey[] = [];
    for (const c of checkpoints) {
      if (c.status?.phase === 'Running' && c.status.nodeName === nodeName)
        keys.push({ kind: 'checkpoint', namespace: c.metadata.namespace!, name: c.metadata.name });
    }
    return keys;
  },
};
