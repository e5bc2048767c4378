import { Gauge, Pushgateway, Registry } from 'prom-client';
import type { Logger } from './logger.js';

/**
 * The Pushgateway group of one action on one object: job "checkpoint-operator" with labels
 * action, namespace and name. Kubernetes names hold no '/', so the key needs no escaping. One
 * group per object, replaced on every run of its Job, deleted by the dispatcher once the object
 * is gone (the Pushgateway keeps groups for ever otherwise).
 */
export function pushGroup(action: string, owner: { namespace: string; name: string }): { jobName: string; groupings: Record<string, string> } {
  return { jobName: 'checkpoint-operator', groupings: { action, namespace: owner.namespace, name: owner.name } };
}

const TIMEOUT_MS = 5000;

/** What a Job pushes, each as `checkpoint_operator_job_<name>`. */
export const JOB_METRICS = ['duration_seconds', 'succeeded', 'last_run_timestamp_seconds', 'last_success_timestamp_seconds', 'archive_bytes'] as const;
type JobMetric = (typeof JOB_METRICS)[number];

export interface JobRunFigures {
  action: string;
  owner: { namespace: string; name: string };
  succeeded: boolean;
  durationSeconds: number;
  bytes?: number | undefined;
  finishedAt: number;
}

/**
 * Pushes one Job run's figures. Never throws: an unreachable Pushgateway must not fail a Job
 * whose result is already recorded; it is logged instead.
 */
export async function pushJobRun(url: string, run: JobRunFigures, log: Logger): Promise<void> {
  const registry = new Registry();
  const gauge = (name: JobMetric, help: string, value: number) => new Gauge({ name: `checkpoint_operator_job_${name}`, help, registers: [registry] }).set(value);
  gauge('duration_seconds', 'Duration of the last run of this Job.', run.durationSeconds);
  gauge('succeeded', '1 if the last run succeeded, 0 if it failed.', run.succeeded ? 1 : 0);
  gauge('last_run_timestamp_seconds', 'When the last run finished (Unix time).', run.finishedAt / 1000);
  if (run.succeeded) gauge('last_success_timestamp_seconds', 'When the last successful run finished (Unix time).', run.finishedAt / 1000);
  if (run.bytes !== undefined) gauge('archive_bytes', 'Bytes the last run stored or read.', run.bytes);
  try {
    await new Pushgateway(url, { timeout: TIMEOUT_MS }, registry).push(pushGroup(run.action, run.owner));
  } catch (err) {
    log.warn({ pushgateway: url, err: (err as Error).message }, 'could not push metrics to the Pushgateway');
  }
}

/** Removes an object's group; a group that is already gone counts as removed. */
export async function deletePushGroup(url: string, action: string, owner: { namespace: string; name: string }): Promise<void> {
  await new Pushgateway(url, { timeout: TIMEOUT_MS }, new Registry()).delete(pushGroup(action, owner));
}
