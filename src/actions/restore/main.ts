import { systemClock } from '../../clock/clock.js';
import { RESTORE_JOB_INPUT_ENV, restoreJobInputSchema } from './job-input.js';
import { runRestoreAction } from './run.js';
import { pushJobRun } from '../../observability/pushgateway.js';
import { withSpan } from '../../observability/tracing.js';
import { startJobProgram } from '../shared/job-program.js';

/**
 * The restore Job. Its result lives in the Checkpoint's restore record, so it exits 0 once a
 * result (an image or a failure) is recorded; a non-zero exit means nothing could be recorded,
 * and the dispatcher reads the Job's Failed condition instead.
 */
const {
  input,
  log,
  lean,
  events,
  startedAt: started,
  underDispatcherSpan,
  finish,
} = await startJobProgram('restore-job', RESTORE_JOB_INPUT_ENV, restoreJobInputSchema);
const result = await underDispatcherSpan(() =>
  withSpan(
    'restore job',
    { 'k8s.namespace.name': input.pod.namespace, pod: input.pod.name, checkpoint: input.checkpoint.name },
    () =>
      runRestoreAction({
        input,
        lean,
        events,
        clock: systemClock,
        log: log.child({
          namespace: input.pod.namespace,
          name: input.pod.name,
          checkpoint: input.checkpoint.name,
          action: 'restore',
        }),
      }),
  ),
);
if (result.outcome === 'skipped') log.info(result.why);
else if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(
    process.env.PUSHGATEWAY_URL,
    {
      action: 'restore',
      owner: input.checkpoint,
      succeeded: result.outcome === 'pushed',
      durationSeconds: (Date.now() - started) / 1000,
      bytes: result.outcome === 'pushed' ? result.sizeBytes : undefined,
      finishedAt: Date.now(),
    },
    log,
  );
}
await finish(0);
