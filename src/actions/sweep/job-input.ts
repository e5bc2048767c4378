import * as z from 'zod/mini';
import { jobStorageSchema } from '../shared/storage-input.js';

const nonEmpty = () => z.string().check(z.minLength(1));

/**
 * What a policy's sweep CronJob tells each of its Jobs, as one JSON env var. Storage is given only
 * for pvc and s3 policies, so the sweep can list it for orphan archives; local archives are spread
 * over the nodes' disks, out of reach of one Job. Secrets never travel here: S3 credentials are
 * files of a Secret (S3_SECRET_DIR), as for the other Jobs.
 */
export const sweepJobInputSchema = z.object({
  policy: z.object({ name: nonEmpty(), uid: nonEmpty() }),
  storage: z.optional(
    jobStorageSchema.check(
      z.refine(
        (s) => s.backend !== 'local',
        'a sweep lists pvc or s3 storage only: local archives are spread over the nodes',
      ),
    ),
  ),
});
export type SweepJobInput = z.infer<typeof sweepJobInputSchema>;

export const SWEEP_JOB_INPUT_ENV = 'SWEEP_JOB_INPUT';

/**
 * The Pushgateway group of a policy's sweep: action "sweep", namespace PUSH_GROUP_CLUSTER_SCOPE,
 * name the policy. A policy is cluster-scoped, and the grouping needs a non-empty namespace; "_"
 * is not allowed in a namespace name, so this value can never be taken for one. The dispatcher
 * deletes the group under the same key once the policy is gone.
 */
export const PUSH_GROUP_CLUSTER_SCOPE = '_cluster';

export function sweepPushOwner(policyName: string): { namespace: string; name: string } {
  return { namespace: PUSH_GROUP_CLUSTER_SCOPE, name: policyName };
}
