import { systemClock } from '../../clock/clock.js';
import { S3_SECRET_DIR } from '../shared/storage-input.js';
import { CLEANUP_JOB_INPUT_ENV, cleanupJobInputSchema } from './job-input.js';
import { backendFor } from '../shared/backend-for.js';
import { runCleanup } from './run.js';
import { pushJobRun } from '../../observability/pushgateway.js';
import { withSpan } from '../../observability/tracing.js';
import { startJobProgram } from '../shared/job-program.js';

/**
 * The cleanup Job. Unlike the other Jobs it exits non-zero when the archive could not be deleted
 * (after recording why in the Checkpoint's status): the Job controller then retries the pod with
 * its exponential backoff, which is what rides out a storage outage, while the finalizer keeps
 * the Checkpoint until a run succeeds.
 */
const {
  input,
  log,
  lean,
  events,
  startedAt: started,
  underDispatcherSpan,
  finish,
} = await startJobProgram('cleanup-job', CLEANUP_JOB_INPUT_ENV, cleanupJobInputSchema);
const result = await underDispatcherSpan(() =>
  withSpan(
    'cleanup job',
    {
      'k8s.namespace.name': input.checkpoint.namespace,
      checkpoint: input.checkpoint.name,
      backend: input.storage.backend,
    },
    () =>
      runCleanup({
        input,
        backend: () => backendFor(input.storage, S3_SECRET_DIR),
        lean,
        events,
        clock: systemClock,
        log: log.child({ namespace: input.checkpoint.namespace, name: input.checkpoint.name, action: 'cleanup' }),
      }),
  ),
);
if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(
    process.env.PUSHGATEWAY_URL,
    {
      action: 'cleanup',
      owner: input.checkpoint,
      succeeded: result.ok,
      durationSeconds: (Date.now() - started) / 1000,
      finishedAt: Date.now(),
    },
    log,
  );
}
await finish(result.ok ? 0 : 1);
