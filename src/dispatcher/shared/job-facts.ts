import type { V1Job } from '@kubernetes/client-node';

/** The Job's terminal condition, as the Job controller reports it. */
export type JobFacts =
  | { exists: false }
  | { exists: true; outcome: 'running' }
  | { exists: true; outcome: 'complete' }
  | { exists: true; outcome: 'failed'; reason: string | undefined; message: string | undefined };

/** Reads the Job controller's verdict from a Job's conditions. */
export function jobFacts(job: V1Job | undefined): JobFacts {
  if (!job) return { exists: false };
  const conditions = job.status?.conditions ?? [];
  const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
  if (failed) return { exists: true, outcome: 'failed', reason: failed.reason, message: failed.message };
  if (conditions.some((c) => c.type === 'Complete' && c.status === 'True'))
    return { exists: true, outcome: 'complete' };
  return { exists: true, outcome: 'running' };
}
