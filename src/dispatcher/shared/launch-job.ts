import type { V1Job } from '@kubernetes/client-node';
import { isAlreadyExists } from '../../kube/errors.js';
import type { LeanKubeClient } from '../../kube/lean-client.js';
import { adoptJobSecret, createJobSecret } from './job-secrets.js';

export interface LaunchedJob {
  /** false when an earlier run of the same reconcile had already created it: it is adopted. */
  created: boolean;
  uid: string | undefined;
}

/**
 * Starts an action's Job the one way every reconciler does: its per-Job Secret (named like the
 * Job) first, so the pod never waits for it; then the Job, where a 409 means an earlier run of this
 * reconcile made it and it is adopted; then the Secret handed to the Job as owner, so the garbage
 * collector removes both together. No Secret when there is nothing secret to carry.
 *
 * `beforeJob` runs between the two: a restore records its attempt there, before a fast Job can
 * write its result.
 */
export async function launchJob(
  lean: LeanKubeClient,
  args: {
    job: V1Job;
    secretData: Record<string, string>;
    secretLabels: Record<string, string>;
    beforeJob?: () => Promise<void>;
  },
): Promise<LaunchedJob> {
  const namespace = args.job.metadata!.namespace!;
  const name = args.job.metadata!.name!;
  const withSecret = Object.keys(args.secretData).length > 0;
  if (withSecret) await createJobSecret(lean, { namespace, name, labels: args.secretLabels, data: args.secretData });
  await args.beforeJob?.();
  let launched: LaunchedJob;
  try {
    launched = {
      created: true,
      uid: (await lean.post<V1Job>(`/apis/batch/v1/namespaces/${namespace}/jobs`, args.job)).metadata?.uid,
    };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    launched = { created: false, uid: undefined };
  }
  if (withSecret) await adoptJobSecret(lean, namespace, name, launched.uid);
  return launched;
}
