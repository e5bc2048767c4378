import type { V1Job } from '@kubernetes/client-node';
import type { Checkpoint } from '../../api/checkpoint.js';
import { RESTORE_FROM_ANNOTATION, RESTORE_HANDLED_ANNOTATION, RESTORE_STATUS_ANNOTATION } from '../../api/constants.js';
import { jobOwner } from '../../kube/names.js';
import type { WorkKey } from '../work-key.js';
import { handledMarker } from './decide.js';

/** Which events the restore reconciler wants to hear, as keys of the pods it restores. */
export const restoreWatches = {
  /**
   * A pod's metadata changed. `tracked` says whether the dispatcher should remember the pod (it
   * has a restore annotation, so a new leader queues it again); `keys` whether it needs a
   * decision now: a pod whose request already has its result changes often (status) and needs none.
   */
  pod(meta: { namespace: string; name: string; annotations?: Record<string, string> | undefined }): {
    tracked: boolean;
    keys: WorkKey[];
  } {
    const annotations = meta.annotations ?? {};
    const request = annotations[RESTORE_FROM_ANNOTATION];
    if (request === undefined && annotations[RESTORE_HANDLED_ANNOTATION] === undefined)
      return { tracked: false, keys: [] };
    const done =
      request !== undefined &&
      handledMarker(request) === annotations[RESTORE_HANDLED_ANNOTATION] &&
      (annotations[RESTORE_STATUS_ANNOTATION] === 'Succeeded' || annotations[RESTORE_STATUS_ANNOTATION] === 'Failed');
    return { tracked: true, keys: done ? [] : [{ kind: 'restore', namespace: meta.namespace, name: meta.name }] };
  },
  /** A restore Job reports through the Checkpoint's record: look at the pods in flight again. */
  checkpoint(c: Checkpoint): WorkKey[] {
    return (c.status?.restores ?? [])
      .filter((r) => r.result === 'Pending' || r.result === 'Running')
      .map((r): WorkKey => ({ kind: 'restore', namespace: r.namespace, name: r.podName }));
  },
  /** Its restore Job changed. */
  job(job: V1Job): WorkKey[] {
    const owner = jobOwner(job.metadata?.labels);
    return owner?.action === 'restore' ? [{ kind: 'restore', namespace: owner.namespace, name: owner.name }] : [];
  },
};
