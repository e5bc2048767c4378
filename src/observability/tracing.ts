import type * as Api from '@opentelemetry/api';

/**
 * OpenTelemetry tracing, off unless the standard OTEL_* variables ask for it. Nothing of
 * OpenTelemetry is loaded while it is off: a Job's start-up is part of every checkpoint, and the
 * SDK with its exporter costs more to load than the Job itself. Code marks its steps with
 * `withSpan`, which is a plain call when tracing is off.
 */

let api: typeof Api | undefined;

/** The standard variables that switch tracing on (and OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none that keep it off). */
export function tracingConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
}

/** OTEL_* variables the dispatcher hands to its Jobs, so they export where it does. */
export function tracingEnvForJobs(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  if (!tracingConfigured(env)) return {};
  const passed = Object.entries(env).filter(
    ([k, v]) => v !== undefined && /^OTEL_/.test(k) && k !== 'OTEL_SERVICE_NAME',
  ) as [string, string][];
  return { ...Object.fromEntries(passed), OTEL_SERVICE_NAME: 'checkpoint-operator-job' };
}

export interface Tracing {
  /** Flushes finished spans to the exporter; bounded, and never throws (a receiver being down never fails the caller). */
  shutdown(): Promise<void>;
}

/** Starts the SDK when configured; resolves to undefined (and loads nothing) when not. */
export async function startTracing(
  serviceName: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Tracing | undefined> {
  if (!tracingConfigured(env)) return undefined;
  const [otel, { NodeSDK }, { OTLPTraceExporter }] = await Promise.all([
    import('@opentelemetry/api').then(commonJs),
    import('@opentelemetry/sdk-node').then(commonJs),
    import('@opentelemetry/exporter-trace-otlp-proto').then(commonJs),
  ]);
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? serviceName,
    traceExporter: new OTLPTraceExporter({
      url:
        env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/+$/, '')}/v1/traces`,
    }),
    // Spans only: no auto-instrumentation, metrics or logs pipelines (Prometheus covers metrics).
    instrumentations: [],
  });
  sdk.start();
  api = otel;
  return {
    async shutdown() {
      const timeout = new Promise<void>((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([sdk.shutdown().catch(() => undefined), timeout]);
    },
  };
}

/** These packages are CommonJS: once bundled, a dynamic import's exports can sit under `default`. */
function commonJs<T extends object>(mod: T): T {
  return (mod as { default?: T }).default && !Object.keys(mod).some((k) => k !== 'default' && k !== '__esModule')
    ? (mod as { default: T }).default
    : mod;
}

/** Runs fn inside a span named `name` (a child of the active one), recording a failure on it. */
export function withSpan<T>(
  name: string,
  attributes: Record<string, string | number | boolean | undefined>,
  fn: () => Promise<T>,
): Promise<T> {
  const otel = api;
  if (!otel) return fn();
  const attrs = Object.fromEntries(Object.entries(attributes).filter(([, v]) => v !== undefined)) as Api.Attributes;
  return otel.trace.getTracer('checkpoint-operator').startActiveSpan(name, { attributes: attrs }, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.recordException(err as Error);
      span.setStatus({ code: otel.SpanStatusCode.ERROR, message: String((err as Error)?.message ?? err) });
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Runs fn as a continuation of the W3C trace context given (a Job continuing its dispatcher's trace). */
export function withRemoteParent<T>(
  carrier: { traceparent?: string | undefined; tracestate?: string | undefined },
  fn: () => Promise<T>,
): Promise<T> {
  const otel = api;
  if (!otel || !carrier.traceparent) return fn();
  const parent = otel.propagation.extract(otel.ROOT_CONTEXT, carrier);
  return otel.context.with(parent, fn);
}

/** The active span's context as W3C headers, for a Job's TRACEPARENT and TRACESTATE. */
export function activeTraceContext(): { traceparent?: string; tracestate?: string } {
  const otel = api;
  if (!otel) return {};
  const carrier: Record<string, string> = {};
  otel.propagation.inject(otel.context.active(), carrier);
  return {
    ...(carrier.traceparent ? { traceparent: carrier.traceparent } : {}),
    ...(carrier.tracestate ? { tracestate: carrier.tracestate } : {}),
  };
}

/** Ids of the active span, for log lines. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = api?.trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}
