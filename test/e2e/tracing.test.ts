import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { clusterContext } from './support/cluster-context.js';
import { runWorkload, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';

const NS = 'tracing-e2e';
const OPERATOR_NS = 'checkpoint-operator-system';
const { clusterDir, otlpQueryUrl, pushgatewayUrl } = clusterContext();

interface ReceivedSpan {
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  service: string;
}

/** The spans of one trace as the OTLP receiver (Jaeger) stored them. */
async function receivedTrace(traceId: string): Promise<ReceivedSpan[]> {
  const res = await fetch(`${otlpQueryUrl}/api/traces/${traceId}`);
  if (res.status !== 200) return [];
  const body = (await res.json()) as {
    data?: {
      spans: {
        spanID: string;
        operationName: string;
        processID: string;
        references?: { refType: string; spanID: string }[];
      }[];
      processes: Record<string, { serviceName: string }>;
    }[];
  };
  const trace = body.data?.[0];
  if (!trace) return [];
  return trace.spans.map((s) => ({
    spanId: s.spanID,
    parentSpanId: s.references?.find((r) => r.refType === 'CHILD_OF')?.spanID,
    name: s.operationName,
    service: trace.processes[s.processID]?.serviceName ?? '',
  }));
}

const checkpoint = (name: string, pod: string) => `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: ${name}, namespace: ${NS} }
spec:
  target: { podName: ${pod} }
  storage: { backend: local, local: { path: /var/lib/checkpoint-operator/archives } }
`;

async function jobOf(
  name: string,
): Promise<{ name: string; env: Record<string, string>; pod: { name: string; uid: string; node: string } }> {
  const jobs = JSON.parse(
    await kubectl([
      'get',
      'jobs',
      '-n',
      OPERATOR_NS,
      '-l',
      `checkpoint.example.com/owner-namespace=${NS},checkpoint.example.com/owner-name=${name}`,
      '-o',
      'json',
    ]),
  );
  const job = jobs.items[0];
  const env = Object.fromEntries(
    (job.spec.template.spec.containers[0].env as { name: string; value?: string }[])
      .filter((e) => e.value !== undefined)
      .map((e) => [e.name, e.value!]),
  );
  const pods = JSON.parse(
    await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', `job-name=${job.metadata.name}`, '-o', 'json']),
  );
  const pod = pods.items[0];
  return {
    name: job.metadata.name,
    env,
    pod: { name: pod.metadata.name, uid: pod.metadata.uid, node: pod.spec.nodeName },
  };
}

describe('OpenTelemetry traces', () => {
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    await runWorkload(NS, 'app');
  });

  it("covers the dispatcher's reconcile and the Job's steps with one trace, parent-linked, and puts its id on the Job's log lines", async () => {
    await kubectl(['apply', '-f', '-'], checkpoint('traced', 'app'));
    expect((await waitForTerminal(NS, 'traced')).status?.phase).toBe('Succeeded');
    const job = await jobOf('traced');
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(job.env.TRACEPARENT ?? '');
    expect(m, `TRACEPARENT of Job ${job.name}: ${job.env.TRACEPARENT}`).not.toBeNull();
    const [, traceId, reconcileSpanId] = m!;
    expect(job.env.OTEL_EXPORTER_OTLP_ENDPOINT).toBeTruthy();
    expect(job.env.OTEL_SERVICE_NAME).toBe('checkpoint-operator-job');

    let spans: ReceivedSpan[] = [];
    await expect
      .poll(
        async () => {
          spans = await receivedTrace(traceId!);
          return spans.map((s) => s.name).sort();
        },
        { timeout: 30_000 },
      )
      .toEqual(
        expect.arrayContaining([
          'reconcile checkpoint',
          'checkpoint job',
          'kubelet checkpoint',
          'store archive',
          'write status',
        ]),
      );
    const byName = (name: string) => spans.find((s) => s.name === name)!;
    const reconcile = spans.find((s) => s.spanId === reconcileSpanId)!;
    expect(reconcile).toMatchObject({ name: 'reconcile checkpoint', service: 'checkpoint-operator' });
    expect(byName('checkpoint job')).toMatchObject({
      service: 'checkpoint-operator-job',
      parentSpanId: reconcileSpanId,
    });
    for (const step of ['kubelet checkpoint', 'store archive', 'write status']) {
      expect(byName(step), step).toMatchObject({
        service: 'checkpoint-operator-job',
        parentSpanId: byName('checkpoint job').spanId,
      });
    }

    // The Job's log lines written inside its spans carry the trace id.
    const logDir = join(
      clusterDir,
      'nodes',
      job.pod.node,
      'var/log/pods',
      `${OPERATOR_NS}_${job.pod.name}_${job.pod.uid}`,
      'checkpoint',
    );
    const log = await readFile(
      join(
        logDir,
        (await readdir(logDir)).find((f) => f.endsWith('.log'))!,
      ),
      'utf8',
    );
    // The kubelet writes each line in the CRI log format: <time> <stream> <F|P> <line>.
    const lines = log
      .split('\n')
      .map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, ''))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; trace_id?: string; namespace?: string; action?: string });
    const stored = lines.find((l) => l.msg === 'checkpoint stored');
    expect(stored).toMatchObject({ trace_id: traceId, namespace: NS, action: 'checkpoint' });
  });

  it('a checkpoint still Succeeds with the Pushgateway and the OTLP receiver both unresponsive', async () => {
    const { pushgatewayPid, otlpPid } = clusterContext();
    process.kill(pushgatewayPid, 'SIGSTOP');
    process.kill(otlpPid, 'SIGSTOP');
    try {
      await kubectl(['apply', '-f', '-'], checkpoint('receivers-down', 'app'));
      const c = await waitForTerminal(NS, 'receivers-down');
      expect(c.status?.phase, JSON.stringify(c.status)).toBe('Succeeded');
      // The Job itself finishes too: its pushes and span export give up instead of hanging.
      await expect
        .poll(
          async () => {
            const jobs = JSON.parse(
              await kubectl([
                'get',
                'jobs',
                '-n',
                OPERATOR_NS,
                '-l',
                `checkpoint.example.com/owner-namespace=${NS},checkpoint.example.com/owner-name=receivers-down`,
                '-o',
                'json',
              ]),
            );
            return jobs.items[0]?.status?.succeeded ?? 0;
          },
          { timeout: 60_000 },
        )
        .toBe(1);
    } finally {
      process.kill(pushgatewayPid, 'SIGCONT');
      process.kill(otlpPid, 'SIGCONT');
    }
    expect((await fetch(`${pushgatewayUrl}/-/ready`)).status).toBe(200);
  });
});
