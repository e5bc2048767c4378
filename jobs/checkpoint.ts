import { systemClock } from '../src/clock/clock.js';
import { inCluster } from '../src/kube/credentials.js';
import { EventRecorder } from '../src/kube/events.js';
import { LeanKubeClient } from '../src/kube/lean-client.js';
import { CHECKPOINT_JOB_INPUT_ENV, checkpointJobInputSchema } from '../src/jobs-contract/checkpoint-job-input.js';
import { runCheckpointAction } from '../src/jobs-runtime/checkpoint-action.js';
import { createLogger } from '../src/observability/logger.js';
import { pushJobRun } from '../src/observability/pushgateway.js';
import { startTracing, withRemoteParent, withSpan } from '../src/observability/tracing.js';

/**
 * The checkpoint Job. Its result lives in the Checkpoint's status, so it exits 0 once a result
 * (success or failure) is recorded; a non-zero exit means nothing could be recorded, and the
 * Job's one retry (or the dispatcher, from the Job's Failed condition) takes over.
 */
const started = Date.now();
const log = createLogger('checkpoint-job');
const raw = process.env[CHECKPOINT_JOB_INPUT_ENV];
const parsed = checkpointJobInputSchema.safeParse(raw ? JSON.parse(raw) : undefined);
if (!parsed.success) {
  log.error({ issues: parsed.error.issues }, `invalid ${CHECKPOINT_JOB_INPUT_ENV}`);
  process.exit(2);
}
const input = parsed.data;
const tracing = await startTracing('checkpoint-operator-job').catch((err: Error) => {
  log.warn({ err: err.message }, 'could not start tracing; continuing without it');
  return undefined;
});
const credentials = inCluster();
const lean = new LeanKubeClient(credentials);
const events = new EventRecorder(lean, 'checkpoint-operator-job', log);
// The dispatcher's reconcile span is this Job's parent (TRACEPARENT), so one trace covers both.
const result = await withRemoteParent({ traceparent: process.env.TRACEPARENT, tracestate: process.env.TRACESTATE }, () =>
  withSpan('checkpoint job', { 'k8s.namespace.name': input.checkpoint.namespace, checkpoint: input.checkpoint.name, node: input.nodeName }, () => runCheckpointAction({
    input,
    credentials,
    lean,
    events,
    nodeIP: process.env.NODE_IP,
    clock: systemClock,
    log: log.child({ namespace: input.checkpoint.namespace, name: input.checkpoint.name, action: 'checkpoint' }),
  })));
if (result.outcome === 'skipped') log.info(result.why);
else if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(process.env.PUSHGATEWAY_URL, {
    action: 'checkpoint',
    owner: input.checkpoint,
    succeeded: result.outcome === 'succeeded',
    durationSeconds: (Date.now() - started) / 1000,
    bytes: result.outcome === 'succeeded' ? result.archive.sizeBytes : undefined,
    finishedAt: Date.now(),
  }, log);
}
await events.flush();
await tracing?.shutdown();
process.exit(0);
