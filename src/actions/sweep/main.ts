import { systemClock } from '../../clock/clock.js';
import { SWEEP_JOB_INPUT_ENV, sweepJobInputSchema, sweepPushOwner } from './job-input.js';
import { runSweep, type SweepResult } from './run.js';
import { pushJobRun } from '../../observability/pushgateway.js';
import { withSpan } from '../../observability/tracing.js';
import { startJobProgram } from '../shared/job-program.js';

/**
 * A run of a policy's retention sweep CronJob. It exits 0 once the sweep is done (or has nothing
 * to do: the policy is gone) and 1 when it failed, after recording why in the policy's status;
 * the CronJob's next run tries again.
 */
const {
  input,
  log,
  lean,
  events,
  startedAt: started,
  underDispatcherSpan,
  finish,
} = await startJobProgram('sweep-job', SWEEP_JOB_INPUT_ENV, sweepJobInputSchema);
const result: SweepResult | { outcome: 'failed' } = await underDispatcherSpan(() =>
  withSpan('sweep job', { policy: input.policy.name, storage: input.storage?.backend }, () =>
    runSweep({
      input,
      lean,
      events,
      clock: systemClock,
      log: log.child({ name: input.policy.name, action: 'sweep' }),
    }),
  ),
).catch((err: unknown) => {
  log.error({ err: err instanceof Error ? err.message : String(err) }, 'retention sweep failed');
  return { outcome: 'failed' as const };
});
if (result.outcome === 'skipped') log.info(result.why);
else if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(
    process.env.PUSHGATEWAY_URL,
    {
      action: 'sweep',
      owner: sweepPushOwner(input.policy.name),
      succeeded: result.outcome === 'swept',
      durationSeconds: (Date.now() - started) / 1000,
      finishedAt: Date.now(),
    },
    log,
  );
}
await finish(result.outcome === 'failed' ? 1 : 0);
