import { systemClock } from '../src/clock/clock.js';
import { S3_SECRET_DIR } from '../src/jobs-contract/checkpoint-job-input.js';
import { CLEANUP_JOB_INPUT_ENV, cleanupJobInputSchema } from '../src/jobs-contract/cleanup-job-input.js';
import { backendFor } from '../src/jobs-runtime/backend-for.js';
import { runCleanup } from '../src/jobs-runtime/cleanup-action.js';
import { inCluster } from '../src/kube/credentials.js';
import { EventRecorder } from '../src/kube/events.js';
import { LeanKubeClient } from '../src/kube/lean-client.js';
import { createLogger } from '../src/observability/logger.js';
import { pushJobRun } from '../src/observability/pushgateway.js';
import { startTracing, withRemoteParent, withSpan } from '../src/observability/tracing.js';

/**
 * The cleanup Job. Unlike the other Jobs it exits non-zero when the archive could not be deleted
 * (after recording why in the Checkpoint's status): the Job controller then retries the pod with
 * its exponential backoff, which is what rides out a storage outage, while the finalizer keeps
 * the Checkpoint until a run succeeds.
 */
const started = Date.now();
const log = createLogger('cleanup-job');
const raw = process.env[CLEANUP_JOB_INPUT_ENV];
const parsed = cleanupJobInputSchema.safeParse(raw ? JSON.parse(raw) : undefined);
if (!parsed.success) {
  log.error({ issues: parsed.error.issues }, `invalid ${CLEANUP_JOB_INPUT_ENV}`);
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
  withSpan('cleanup job', { 'k8s.namespace.name': input.checkpoint.namespace, checkpoint: input.checkpoint.name, backend: input.storage.backend }, () => runCleanup({
    input,
    backend: () => backendFor(input.storage, S3_SECRET_DIR),
    lean,
    events,
    clock: systemClock,
    log: log.child({ namespace: input.checkpoint.namespace, name: input.checkpoint.name, action: 'cleanup' }),
  })));
if (process.env.PUSHGATEWAY_URL) {
  await pushJobRun(process.env.PUSHGATEWAY_URL, {
    action: 'cleanup',
    owner: input.checkpoint,
    succeeded: result.ok,
    durationSeconds: (Date.now() - started) / 1000,
    finishedAt: Date.now(),
  }, log);
}
await events.flush();
await tracing?.shutdown();
process.exit(result.ok ? 0 : 1);
