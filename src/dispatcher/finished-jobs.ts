import type { V1Job } from '@kubernetes/client-node';
import type { Checkpoint } from '../api/checkpoint.js';
import { isNotFound } from '../kube/errors.js';
import type { LeanKubeClient } from '../kube/lean-client.js';
import { type JobAction, LABELS } from '../kube/names.js';
import type { Logger } from '../observability/logger.js';

/** A finished Job, with whether what it did is written where users read it. */
export interface FinishedJob {
  name: string;
  uid: string | undefined;
  action: JobAction;
  finishedAt: number;
  /** Its outcome is in the owner's status (or the owner is gone): nothing needs the Job any more. */
  resultRecorded: boolean;
}

/**
 * Which finished Jobs to delete: those whose result is recorded, except the `keep` most recently
 * finished of each action, left for `kubectl logs` and debugging. A Job whose result is not yet
 * recorded is never deleted, however old: the dispatcher may still need its outcome.
 */
export function finishedJobsToDelete(jobs: FinishedJob[], keep: number): FinishedJob[] {
  const byAction = new Map<JobAction, FinishedJob[]>();
  for (const job of jobs) byAction.set(job.action, [...(byAction.get(job.action) ?? []), job]);
  const doomed: FinishedJob[] = [];
  for (const list of byAction.values()) {
    const newestFirst = [...list].sort((a, b) => b.finishedAt - a.finishedAt || a.name.localeCompare(b.name));
    doomed.push(...newestFirst.slice(keep).filter((j) => j.resultRecorded));
  }
  return doomed;
}

/** When the Job controller says a Job finished; undefined while it runs. */
export function finishedAt(job: V1Job): number | undefined {
  const done = job.status?.conditions?.find(
    (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
  );
  if (!done) return undefined;
  const at = job.status?.completionTime ?? done.lastTransitionTime;
  const ms = at ? new Date(at).getTime() : NaN;
  return Number.isNaN(ms) ? 0 : ms;
}

/**
 * The facts finishedJobsToDelete needs, from the caches. Sweep Jobs are left to their CronJob's
 * history limits.
 * - checkpoint: recorded once its Checkpoint is Succeeded or Failed, or gone;
 * - cleanup: once its Checkpoint is gone (the cleanup's last step lets it go);
 * - restore: once no Checkpoint has a Pending or Running restore record naming it.
 */
export function finishedJobFacts(
  jobs: readonly V1Job[],
  checkpoint: (namespace: string, name: string) => Checkpoint | undefined,
  restoresInFlight: Set<string>,
): FinishedJob[] {
  const facts: FinishedJob[] = [];
  for (const job of jobs) {
    const labels = job.metadata?.labels ?? {};
    const action = labels[LABELS.action] as JobAction | undefined;
    const at = finishedAt(job);
    const name = job.metadata?.name;
    if (!name || at === undefined || (action !== 'checkpoint' && action !== 'cleanup' && action !== 'restore'))
      continue;
    const owner =
      labels[LABELS.ownerNamespace] && labels[LABELS.ownerName]
        ? checkpoint(labels[LABELS.ownerNamespace]!, labels[LABELS.ownerName]!)
        : undefined;
    const sameOwner =
      owner !== undefined && (!labels[LABELS.ownerUid] || owner.metadata.uid === labels[LABELS.ownerUid]);
    let resultRecorded: boolean;
    switch (action) {
      case 'checkpoint':
        resultRecorded = !sameOwner || owner.status?.phase === 'Succeeded' || owner.status?.phase === 'Failed';
        break;
      case 'cleanup':
        resultRecorded = !sameOwner;
        break;
      case 'restore':
        resultRecorded = !restoresInFlight.has(name);
        break;
    }
    facts.push({ name, uid: job.metadata?.uid, action, finishedAt: at, resultRecorded });
  }
  return facts;
}

/** Job names that Checkpoints' restore records still wait on. */
export function restoreJobsInFlight(checkpoints: Iterable<Checkpoint>): Set<string> {
  const names = new Set<string>();
  for (const c of checkpoints) {
    for (const r of c.status?.restores ?? [])
      if (r.jobName && (r.result === 'Pending' || r.result === 'Running')) names.add(r.jobName);
  }
  return names;
}

/**
 * Deletes what finishedJobsToDelete picks, with the Job's pods (background propagation) and only
 * the Job decided on (uid precondition). A Job already gone is fine; any other error is logged
 * and the next round tries again.
 */
export async function deleteFinishedJobs(
  lean: LeanKubeClient,
  namespace: string,
  doomed: FinishedJob[],
  log: Logger,
): Promise<number> {
  let deleted = 0;
  for (const job of doomed) {
    try {
      await lean.delete(`/apis/batch/v1/namespaces/${namespace}/jobs/${job.name}`, {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        ...(job.uid ? { preconditions: { uid: job.uid } } : {}),
      });
      deleted++;
    } catch (err) {
      if (!isNotFound(err))
        log.warn({ job: job.name, err: (err as Error).message }, 'could not delete a finished Job; trying again later');
    }
  }
  if (deleted > 0) log.info({ deleted }, 'deleted finished Jobs whose results are recorded');
  return deleted;
}
