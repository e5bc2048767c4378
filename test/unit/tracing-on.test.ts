import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  activeTraceContext,
  activeTraceIds,
  startTracing,
  withRemoteParent,
  withSpan,
} from '../../src/observability/tracing.js';

/** A port with nothing listening: the exporter's sends fail, as with a receiver that is down. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('tracing on', () => {
  it('continues a remote parent, nests spans, exposes ids for logs and TRACEPARENT, and shuts down promptly with the receiver down', async () => {
    const tracing = await startTracing('unit', {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`,
    });
    expect(tracing).toBeDefined();
    const parentTrace = '0af7651916cd43dd8448eb211c80319c';
    const seen = await withRemoteParent({ traceparent: `00-${parentTrace}-b7ad6b7169203331-01` }, () =>
      withSpan('outer', { step: 'one' }, () =>
        withSpan('inner', {}, async () => ({ ids: activeTraceIds(), context: activeTraceContext() })),
      ),
    );
    expect(seen.ids?.trace_id).toBe(parentTrace);
    expect(seen.context.traceparent).toBe(`00-${parentTrace}-${seen.ids!.span_id}-01`);
    expect(activeTraceIds()).toBeUndefined();
    const started = Date.now();
    await tracing!.shutdown();
    expect(Date.now() - started).toBeLessThan(6000);
  }, 20_000);
});
