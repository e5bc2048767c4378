import type { Logger } from './logger.js';

/**
 * The Pushgateway group of one action on one object: job "checkpoint-operator" with labels
 * action, namespace and name. Kubernetes names hold no '/', so the key needs no escaping. One
 * group per object, replaced on every run of its Job, deleted by the dispatcher once the object
 * is gone (the Pushgateway keeps groups for ever otherwise).
 */
export function pushGroup(
  action: string,
  owner: { namespace: string; name: string },
): { jobName: string; groupings: Record<string, string> } {
  return { jobName: 'checkpoint-operator', groupings: { action, namespace: owner.namespace, name: owner.name } };
}

const TIMEOUT_MS = 5000;

/**
 * prom-client is loaded on first use, not at start-up: a Job pushes once, at its end, and only
 * when a Pushgateway is configured, while loading it would delay every Job's first request.
 * It is CommonJS: `default` is its exports object in Node and in the bundles alike (a bundle's
 * chunk for it exports nothing else).
 */
async function loadPromClient(): Promise<typeof import('prom-client')> {
  return (await import('prom-client')).default;
}

/** What a Job pushes, each as `checkpoint_operator_job_<name>`. */
export const JOB_METRICS = [
  'duration_seconds',
  'succeeded',
  'last_run_timestamp_seconds',
  'last_success_timestamp_seconds',
  'archive_bytes',
  'peak_rss_bytes',
] as const;
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
  try {
    const { Gauge, Pushgateway, Registry } = await loadPromClient();
    const registry = new Registry();
    const gauge = (name: JobMetric, help: string, value: number) =>
      new Gauge({ name: `checkpoint_operator_job_${name}`, help, registers: [registry] }).set(value);
    gauge('duration_seconds', 'Duration of the last run of this Job.', run.durationSeconds);
    gauge('succeeded', '1 if the last run succeeded, 0 if it failed.', run.succeeded ? 1 : 0);
    gauge('last_run_timestamp_seconds', 'When the last run finished (Unix time).', run.finishedAt / 1000);
    if (run.succeeded)
      gauge(
        'last_success_timestamp_seconds',
        'When the last successful run finished (Unix time).',
        run.finishedAt / 1000,
      );
    if (run.bytes !== undefined) gauge('archive_bytes', 'Bytes the last run stored or read.', run.bytes);
    // The process's own high-water mark (getrusage ru_maxrss, KiB): what its memory limit must hold.
    gauge('peak_rss_bytes', "Peak resident memory of the last run's process.", process.resourceUsage().maxRSS * 1024);
    await new Pushgateway(url, { timeout: TIMEOUT_MS }, registry).push(pushGroup(run.action, run.owner));
  } catch (err) {
    log.warn({ pushgateway: url, err: (err as Error).message }, 'could not push metrics to the Pushgateway');
  }
}

/** Removes an object's group; a group that is already gone counts as removed. */
export async function deletePushGroup(
  url: string,
  action: string,
  owner: { namespace: string; name: string },
): Promise<void> {
  const { Pushgateway, Registry } = await loadPromClient();
  await new Pushgateway(url, { timeout: TIMEOUT_MS }, new Registry()).delete(pushGroup(action, owner));
}
