import type { V1Job } from '@kubernetes/client-node';

/**
 * The per-Job Secret (named like the Job) a finished Job mounted, which the dispatcher deletes;
 * undefined while the Job runs or when it mounts none. Read from the Job cache, so the cache's
 * projection (dispatcher/job-projection.ts) must keep what this reads.
 */
export function finishedJobSecret(job: V1Job): string | undefined {
  const name = job.metadata?.name;
  const finished = job.status?.conditions?.some(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  const ownSecret = job.spec?.template.spec?.volumes?.some((v) => v.secret?.secretName === name);
  return name && finished && ownSecret ? name : undefined;
}
