import { systemClock } from '../src/clock/clock.js';
import { inCluster } from '../src/kube/credentials.js';
import { EventRecorder } from '../src/kube/events.js';
import { LeanKubeClient } from '../src/kube/lean-client.js';
import { SWEEP_JOB_INPUT_ENV, sweepJobInputSchema, sweepPushOwner } from '../src/jobs-contract/sweep-job-input.js';
import { runSweep, type SweepResult } from '../src/jobs-runtime/sweep-action.js';
import { createLogger } from '../src/observability/logger.js';
import { pushJobRun } from '../src/observability/pushgateway.js';
import { startTracing, withRemoteParent, withSpan } from '../src/observability/tracing.js';

/**
 * A run of a policy's retention sweep CronJob. It exits 0 once the sweep is done (or has nothing
 * to do: the policy is gone) and 1 when it failed, after recording why in the policy's status;
 * the CronJob's next run tries again.
 */
const started = Date.now();
const log = createLogger('sweep-job');
const raw = process.env[SWEEP_JOB_INPUT_ENV];
const parsed = sweepJobInputSchema.safeParse(raw ? JSON.parse(raw) : undefined);
if (!parsed.success) {
  log.error({ issues: parsed.error.issues }, `invalid ${SWEEP_JOB_INPUT_ENV}`);
  process.exit(2);
}
const input = parsed.data;
const tracing = await startTracing('checkpoint-operator-job').catch((err: Error) => {
  log.warn({ err: err.message }, 'could not start tracing; continuing without it');
  return undefined;
});
const lean = new LeanKubeClient(inCluster());
const events = new EventRecorder(lean, 'checkpoint-operator-job', log);
// A CronJob's Jobs have no reconcile span to continue unless one was handed down (TRACEPARENT);
// without it each sweep is a trace of its own.
const result: SweepResult | { outcome: 'failed' } = await withRemoteParent({ traceparent: process.env.TRACEPARENT, tracestate: process.env.TRACESTATE }, () =>
  withSpan('sweep job', { policy: input.policy.name, storage: input.storage?.backend }, () => runSweep({
    input,
    lean,
    events,
    clock: systemClock,
    log: log.child({ name: input.policy.name, action: 'sweep' }),
  }))).catch((err: unknown) => {
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'retention sweep failed');
  return { outcome: 'failed' as const };
});
if (result.outcome === 'skipped') log.info(result.why);
else if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(process.env.PUSHGATEWAY_URL, {
    action: 'sweep',
    owner: sweepPushOwner(input.policy.name),
    succeeded: result.outcome === 'swept',
    durationSeconds: (Date.now() - started) / 1000,
    finishedAt: Date.now(),
  }, log);
}
await events.flush();
await tracing?.shutdown();
process.exit(result.outcome === 'failed' ? 1 : 0);
