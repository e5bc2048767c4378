import { inCluster } from '../../kube/credentials.js';
import { EventRecorder } from '../../kube/events.js';
import { LeanKubeClient } from '../../kube/lean-client.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { startTracing, withRemoteParent } from '../../observability/tracing.js';

/**
 * How long a Job keeps repeating an API request while the API server is unreachable or
 * overloaded, before its pod fails and the Job controller runs it again. Well inside every Job's
 * active deadline.
 */
const JOB_API_RETRY_MS = 5 * 60_000;

/** What every Job program validates its input with: a zod or zod/mini schema. */
interface InputSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: unknown } };
}

export interface JobProgram<T> {
  input: T;
  log: Logger;
  credentials: ReturnType<typeof inCluster>;
  lean: LeanKubeClient;
  events: EventRecorder;
  startedAt: number;
  /** Runs fn under the dispatcher's span (TRACEPARENT/TRACESTATE), when one was handed down. */
  underDispatcherSpan<R>(fn: () => Promise<R>): Promise<R>;
  /** Sends what is pending (Events, spans), then exits with code. */
  finish(code: number): Promise<never>;
}

/**
 * The start every Job program shares: its one JSON input from the environment (exit 2, with the
 * schema's issues, when it is invalid), tracing (an aid: a broken set-up is logged and skipped),
 * the in-cluster API client and an Event recorder.
 */
export async function startJobProgram<T>(
  component: string,
  inputEnv: string,
  schema: InputSchema<T>,
): Promise<JobProgram<T>> {
  const startedAt = Date.now();
  const log = createLogger(component);
  const raw = process.env[inputEnv];
  const parsed = schema.safeParse(raw ? JSON.parse(raw) : undefined);
  if (!parsed.success) {
    log.error({ issues: parsed.error.issues }, `invalid ${inputEnv}`);
    process.exit(2);
  }
  const tracing = await startTracing('checkpoint-operator-job').catch((err: Error) => {
    log.warn({ err: err.message }, 'could not start tracing; continuing without it');
    return undefined;
  });
  const credentials = inCluster();
  const lean = new LeanKubeClient(credentials, Date.now, { forMs: JOB_API_RETRY_MS });
  const events = new EventRecorder(lean, 'checkpoint-operator-job', log);
  return {
    input: parsed.data,
    log,
    credentials,
    lean,
    events,
    startedAt,
    underDispatcherSpan: (fn) =>
      withRemoteParent({ traceparent: process.env.TRACEPARENT, tracestate: process.env.TRACESTATE }, fn),
    finish: async (code) => {
      await events.flush();
      await tracing?.shutdown();
      process.exit(code);
    },
  };
}
