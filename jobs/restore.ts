import { systemClock } from '../src/clock/clock.js';
import { inCluster } from '../src/kube/credentials.js';
import { EventRecorder } from '../src/kube/events.js';
import { LeanKubeClient } from '../src/kube/lean-client.js';
import { RESTORE_JOB_INPUT_ENV, restoreJobInputSchema } from '../src/jobs-contract/restore-job-input.js';
import { runRestoreAction } from '../src/jobs-runtime/restore-action.js';
import { createLogger } from '../src/observability/logger.js';
import { pushJobRun } from '../src/observability/pushgateway.js';
import { startTracing, withRemoteParent, withSpan } from '../src/observability/tracing.js';

/**
 * The restore Job. Its result lives in the Checkpoint's restore record, so it exits 0 once a
 * result (an image or a failure) is recorded; a non-zero exit means nothing could be recorded,
 * and the dispatcher reads the Job's Failed condition instead.
 */
const started = Date.now();
const log = createLogger('restore-job');
const raw = process.env[RESTORE_JOB_INPUT_ENV];
const parsed = restoreJobInputSchema.safeParse(raw ? JSON.parse(raw) : undefined);
if (!parsed.success) {
  log.error({ issues: parsed.error.issues }, `invalid ${RESTORE_JOB_INPUT_ENV}`);
  process.exit(2);
}
const input = parsed.data;
const tracing = await startTracing('checkpoint-operator-job').catch((err: Error) => {
  log.warn({ err: err.message }, 'could not start tracing; continuing without it');
  return undefined;
});
const lean = new LeanKubeClient(inCluster());
const events = new EventRecorder(lean, 'checkpoint-operator-job', log);
// The dispatcher's reconcile span is this Job's parent (TRACEPARENT), so one trace covers both.
const result = await withRemoteParent({ traceparent: process.env.TRACEPARENT, tracestate: process.env.TRACESTATE }, () =>
  withSpan('restore job', { 'k8s.namespace.name': input.pod.namespace, pod: input.pod.name, checkpoint: input.checkpoint.name }, () => runRestoreAction({
    input,
    lean,
    events,
    clock: systemClock,
    log: log.child({ namespace: input.pod.namespace, name: input.pod.name, checkpoint: input.checkpoint.name, action: 'restore' }),
  })));
if (result.outcome === 'skipped') log.info(result.why);
else if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(process.env.PUSHGATEWAY_URL, {
    action: 'restore',
    owner: input.checkpoint,
    succeeded: result.outcome === 'pushed',
    durationSeconds: (Date.now() - started) / 1000,
    bytes: result.outcome === 'pushed' ? result.sizeBytes : undefined,
    finishedAt: Date.now(),
  }, log);
}
await events.flush();
await tracing?.shutdown();
process.exit(0);
