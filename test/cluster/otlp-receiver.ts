import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureBinaries } from './binaries.js';
import { hostPort, loopbackHost, type ServerHost } from './network/server-host.js';
import { type ManagedProcess, startProcess } from './processes.js';

/** One span as Jaeger stored it, in OpenTelemetry's terms. */
export interface Span {
  /** 32 lowercase hex digits, as OTLP sends it. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** Absent on a root span. */
  parentSpanId?: string;
  name: string;
  /** The resource's service.name. */
  service: string;
  /**
   * The span's attributes, plus the tags Jaeger derives from the OTLP span (span.kind,
   * otel.status_code, otel.scope.name, …).
   */
  attributes: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  /** http://<host>:<port>: what OTEL_EXPORTER_OTLP_ENDPOINT gets (traces go to /v1/traces), from this machine and from pods. */
  endpoint: string;
  port: number;
  /** http://<host>:<port> of Jaeger's query API (/api/traces/<id>, /api/services, …). */
  queryUrl: string;
  /** The spans stored for a trace so far, or undefined if none arrived (exporters batch: poll). */
  trace(traceId: string): Promise<Span[] | undefined>;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface OtlpReceiverOptions {
  /** Directory for its configuration and log. */
  dir: string;
  /** Where it listens (default: this machine's loopback). */
  host?: ServerHost;
  /** Distinguishes several receivers in one dir (default 'jaeger'). */
  name?: string;
  /** A port chosen by the caller for OTLP/HTTP (one already exposed to pods, say); default a free one. */
  port?: number;
}

interface JaegerTag {
  key: string;
  type: string;
  value: string | number | boolean;
}
interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references?: { refType: string; traceID: string; spanID: string }[];
  processID: string;
  tags?: JaegerTag[];
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

/**
 * Jaeger v2 (an OpenTelemetry Collector distribution, built from its Go module) with in-memory
 * storage: OTLP/HTTP in (protobuf or JSON), Jaeger's query API out, every listener on a free
 * port so concurrent runs never meet on the well-known ones.
 */
export async function startOtlpReceiver(opts: OtlpReceiverOptions): Promise<OtlpReceiver> {
  const binaries = await ensureBinaries();
  const name = opts.name ?? 'jaeger';
  const home = join(opts.dir, name);
  await mkdir(home, { recursive: true, mode: 0o700 });
  const host = opts.host ?? loopbackHost;
  const port = opts.port ?? (await host.freePort());
  const queryPort = await host.freePort();
  const queryGrpcPort = await host.freePort();
  const loopback = (p: number) => hostPort(host, p);
  const config = {
    service: {
      extensions: ['jaeger_storage', 'jaeger_query'],
      pipelines: {
        // No batch processor: a span is queryable as soon as the receiver has answered its POST.
        traces: { receivers: ['otlp'], processors: [], exporters: ['jaeger_storage_exporter'] },
      },
      // The collector's own metrics would otherwise listen on a fixed port (8888).
      telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
    },
    extensions: {
      jaeger_storage: { backends: { memstore: { memory: { max_traces: 100_000 } } } },
      jaeger_query: {
        storage: { traces: 'memstore' },
        // Its own spans would land in the store the tests read.
        enable_tracing: false,
        http: { endpoint: loopback(queryPort) },
        // Not used, but it cannot be turned off, and its default port is fixed.
        grpc: { endpoint: loopback(queryGrpcPort), transport: 'tcp' },
      },
    },
    // gRPC is left out of the protocols, so only OTLP/HTTP listens.
    receivers: { otlp: { protocols: { http: { endpoint: loopback(port) } } } },
    exporters: { jaeger_storage_exporter: { trace_storage: 'memstore' } },
  };
  const configPath = join(home, 'config.yaml');
  await writeFile(configPath, stringify(config), { mode: 0o600 });
  const proc = startProcess(
    opts.dir,
    name,
    binaries.jaeger,
    ['--config', configPath],
    { PATH: process.env.PATH, HOME: home },
    host,
  );
  const endpoint = `http://${loopback(port)}`;
  const queryUrl = `http://${loopback(queryPort)}`;
  const stop = () => proc.stop();

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`jaeger exited (${await proc.exited}):\n${await proc.logTail()}`);
    const [query, otlp] = await Promise.all([
      fetch(`${queryUrl}/api/services`).then(
        (r) => r.ok,
        () => false,
      ),
      // Any HTTP answer means the OTLP receiver listens (a GET on /v1/traces is 405).
      fetch(`${endpoint}/v1/traces`).then(
        () => true,
        () => false,
      ),
    ]);
    if (query && otlp) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`jaeger was not ready within 30s:\n${await proc.logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  async function trace(traceId: string): Promise<Span[] | undefined> {
    const res = await fetch(`${queryUrl}/api/traces/${encodeURIComponent(traceId.toLowerCase())}`);
    if (res.status === 404) return undefined;
    if (!res.ok) throw new Error(`jaeger query for trace ${traceId}: HTTP ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { data: JaegerTrace[] | null };
    const spans = (body.data ?? []).flatMap((t) => t.spans.map((s) => toSpan(s, t.processes)));
    return spans.length ? spans : undefined;
  }

  return { endpoint, port, queryUrl, trace, process: proc, stop };
}

// Jaeger prints a 128-bit id whose high half is zero as 16 digits; OTLP always uses 32.
const hex = (id: string, digits: number) => id.toLowerCase().padStart(digits, '0');

function toSpan(s: JaegerSpan, processes: JaegerTrace['processes']): Span {
  const parent = s.references?.find((r) => r.refType === 'CHILD_OF');
  return {
    traceId: hex(s.traceID, 32),
    spanId: hex(s.spanID, 16),
    ...(parent ? { parentSpanId: hex(parent.spanID, 16) } : {}),
    name: s.operationName,
    service: processes[s.processID]?.serviceName ?? '',
    attributes: Object.fromEntries((s.tags ?? []).map((t) => [t.key, t.value])),
  };
}
