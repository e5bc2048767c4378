import { describe, expect, it } from 'vitest';
import {
  activeTraceContext,
  activeTraceIds,
  startTracing,
  tracingConfigured,
  tracingEnvForJobs,
  withRemoteParent,
  withSpan,
} from '../../src/observability/tracing.js';

describe('tracing configuration', () => {
  it('is on only when an OTLP endpoint is set, and can be switched off the standard ways', () => {
    expect(tracingConfigured({})).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingConfigured({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' })).toBe(
      false,
    );
  });

  it("hands the dispatcher's OTEL_* settings to Jobs under the Jobs' own service name, and nothing when off", () => {
    expect(tracingEnvForJobs({ PATH: '/bin' })).toEqual({});
    expect(
      tracingEnvForJobs({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
        OTEL_TRACES_SAMPLER: 'parentbased_always_on',
        OTEL_SERVICE_NAME: 'checkpoint-operator',
        HOME: '/root',
      }),
    ).toEqual({
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318',
      OTEL_TRACES_SAMPLER: 'parentbased_always_on',
      OTEL_SERVICE_NAME: 'checkpoint-operator-job',
    });
  });

  it('loads nothing and changes nothing while off', async () => {
    expect(await startTracing('test', {})).toBeUndefined();
    expect(await withSpan('step', { a: 1 }, async () => 42)).toBe(42);
    await expect(
      withSpan('step', {}, async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(
      await withRemoteParent({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' }, async () =>
        activeTraceIds(),
      ),
    ).toBeUndefined();
    expect(activeTraceContext()).toEqual({});
  });
});
