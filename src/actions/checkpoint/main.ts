import { systemClock } from '../../clock/clock.js';
import { CHECKPOINT_JOB_INPUT_ENV, checkpointJobInputSchema } from './job-input.js';
import { runCheckpointAction } from './run.js';
import { pushJobRun } from '../../observability/pushgateway.js';
import { withSpan } from '../../observability/tracing.js';
import { startJobProgram } from '../shared/job-program.js';

/**
 * The checkpoint Job. Its result lives in the Checkpoint's status, so it exits 0 once a result
 * (success or failure) is recorded; a non-zero exit means nothing could be recorded, and the
 * Job's one retry (or the dispatcher, from the Job's Failed condition) takes over.
 */
const {
  input,
  log,
  credentials,
  lean,
  events,
  startedAt: started,
  underDispatcherSpan,
  finish,
} = await startJobProgram('checkpoint-job', CHECKPOINT_JOB_INPUT_ENV, checkpointJobInputSchema);
const result = await underDispatcherSpan(() =>
  withSpan(
    'checkpoint job',
    { 'k8s.namespace.name': input.checkpoint.namespace, checkpoint: input.checkpoint.name, node: input.nodeName },
    () =>
      runCheckpointAction({
        input,
        credentials,
        lean,
        events,
        nodeIP: process.env.NODE_IP,
        clock: systemClock,
        log: log.child({ namespace: input.checkpoint.namespace, name: input.checkpoint.name, action: 'checkpoint' }),
      }),
  ),
);
if (result.outcome === 'skipped') log.info(result.why);
else if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(
    process.env.PUSHGATEWAY_URL,
    {
      action: 'checkpoint',
      owner: input.checkpoint,
      succeeded: result.outcome === 'succeeded',
      durationSeconds: (Date.now() - started) / 1000,
      bytes: result.outcome === 'succeeded' ? result.archive.sizeBytes : undefined,
      finishedAt: Date.now(),
    },
    log,
  );
}
await finish(0);
