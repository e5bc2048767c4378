import { BatchV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, type V1Job } from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, CHECKPOINT_PLURAL } from '../../src/api/constants.js';
import { parseConfig } from '../../src/dispatcher/config.js';
import { Dispatcher } from '../../src/dispatcher/dispatcher.js';
import { buildCheckpointJob } from '../../src/actions/checkpoint/job.js';
import { makeClients } from '../../src/kube/client.js';
import { createLogger } from '../../src/observability/logger.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import type { Figure } from './figures.js';

const CONCURRENCY = 16;

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function settled(core: CoreV1Api, namespace: string, pods: number): Promise<void> {
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const list = await core.listNamespacedPod({ namespace, limit: 1 });
    const count = (list.metadata?.remainingItemCount ?? 0) + list.items.length;
    if (count >= pods) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

/**
 * Dispatch: the dispatcher turning N Checkpoints into N Jobs (pod lookup, Job, status, event for
 * each), against a bare client-node loop creating the same N Jobs at the same concurrency, in
 * the same run on the same API server.
 */
export async function dispatchBenchmark(cp: ControlPlane, n: number, rounds = 3): Promise<Figure[]> {
  const results: Round[] = [];
  // Rounds in fresh namespaces; the median round is reported, with the spread, because a
  // 2-core machine shared by the API server, etcd and the controllers is noisy.
  for (let r = 0; r < rounds; r++) results.push(await dispatchRound(cp, n, r));
  const median = <T>(xs: T[], key: (x: T) => number) =>
    [...xs].sort((a, b) => key(a) - key(b))[Math.floor(xs.length / 2)]!;
  const m = median(results, (x) => x.dispatchMs / x.baselineMs);
  const spread = results.map((x) => (x.dispatchMs / x.baselineMs).toFixed(2)).join(', ');
  return [
    {
      name: `dispatch ${n} Checkpoints → Jobs (wall time, median of ${rounds} rounds; ratios ${spread})`,
      value: m.dispatchMs / 1000,
      unit: 's',
      baseline: m.baselineMs / 1000,
      baselineName: `bare client-node loop creating ${n} Jobs, concurrency ${CONCURRENCY}`,
      target: { maxRatio: 1.3 },
    },
    {
      name: `dispatch ${n} Checkpoints → Jobs, until their JobCreated Events are also sent (wall time, same round)`,
      value: m.withEventsMs / 1000,
      unit: 's',
      baseline: m.baselineMs / 1000,
      baselineName: 'the same bare loop',
      target: undefined,
    },
    {
      name: `dispatch ${n} Checkpoints → Jobs (client CPU, events included, same round)`,
      value: m.dispatchCpu / 1000,
      unit: 's',
      baseline: m.baselineCpu / 1000,
      baselineName: 'CPU of the bare loop',
      target: undefined,
    },
  ];
}

interface Round {
  baselineMs: number;
  baselineCpu: number;
  dispatchMs: number;
  withEventsMs: number;
  dispatchCpu: number;
}

async function dispatchRound(cp: ControlPlane, n: number, round: number): Promise<Round> {
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = `bench-apps-${round}`;
  const baselineNs = `bench-baseline-${round}`;
  const jobsNs = `bench-jobs-${round}`;
  for (const ns of [apps, baselineNs, jobsNs])
    await core.createNamespace({ body: { metadata: { name: ns } } }).catch(() => undefined);
  // The dispatcher's Jobs run as this ServiceAccount: without it the Job controller could not
  // create their pods, and the dispatch phase would be spared the pod-creation load the
  // baseline phase carries.
  await core
    .createNamespacedServiceAccount({ namespace: jobsNs, body: { metadata: { name: 'checkpoint-operator-job' } } })
    .catch(() => undefined);

  // A Node object (nothing runs there) so the pod garbage collector keeps pods bound to it.
  await core
    .createNode({
      body: { metadata: { name: 'bench-node' }, status: { conditions: [{ type: 'Ready', status: 'True' }] } },
    })
    .catch(() => undefined);
  // Target pods bound to it: nothing runs, but the API objects are real. Each Checkpoint has a
  // container of its own (one container is checkpointed by one Job at a time), as when a policy
  // checkpoints a fleet: 100 pods of 10 containers.
  const pods = Array.from({ length: 100 }, (_, i) => `app-${i}`);
  const containers = Array.from({ length: 10 }, (_, i) => ({ name: `c${i}`, image: 'sample-app' }));
  const targetOf = (i: number) => ({
    podName: pods[i % pods.length]!,
    containerName: containers[Math.floor(i / pods.length) % containers.length]!.name,
  });
  const running = {
    phase: 'Running',
    containerStatuses: containers.map((c) => ({
      name: c.name,
      image: c.image,
      imageID: '',
      ready: true,
      restartCount: 0,
      state: { running: { startedAt: new Date() } },
    })),
  };
  await pool(pods, CONCURRENCY, async (name) => {
    await core
      .createNamespacedPod({
        namespace: apps,
        body: { metadata: { name }, spec: { nodeName: 'bench-node', containers } },
      })
      .catch(() => undefined);
    const current = await core.readNamespacedPod({ name, namespace: apps });
    current.status = running;
    await core.replaceNamespacedPodStatus({ name, namespace: apps, body: current });
  });

  const jobSettings = {
    namespace: baselineNs,
    image: 'checkpoint-operator:bench',
    serviceAccountName: 'default',
    logLevel: 'info',
  };
  const baselineJobs: V1Job[] = Array.from({ length: n }, (_, i) =>
    buildCheckpointJob(
      {
        checkpoint: { namespace: apps, name: `baseline-${i}`, uid: `uid-${i}` },
        target: { namespace: apps, ...targetOf(i) },
        nodeName: 'bench-node',
        kubelet: { access: 'direct', port: 10250, insecureSkipTLSVerify: false },
        storage: { backend: 'local', nodeName: 'bench-node', path: '/var/lib/checkpoint-operator/bench' },
      },
      jobSettings,
    ),
  );
  let cpu = process.cpuUsage();
  let t0 = performance.now();
  await pool(baselineJobs, CONCURRENCY, (job) => batch.createNamespacedJob({ namespace: baselineNs, body: job }));
  const baselineMs = performance.now() - t0;
  const baselineCpu = cpuMs(cpu);
  // Let the Job controller finish creating the baseline's pods before the next phase starts,
  // so neither phase pays for the other's aftermath.
  await settled(core, baselineNs, n);

  // Checkpoints exist first; the measured part is the dispatcher turning them into Jobs.
  await pool(
    Array.from({ length: n }, (_, i) => i),
    CONCURRENCY,
    (i) =>
      custom.createNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural: CHECKPOINT_PLURAL,
        namespace: apps,
        body: {
          apiVersion: `${API_GROUP}/${API_VERSION}`,
          kind: 'Checkpoint',
          metadata: { name: `ckpt-${i}` },
          spec: {
            target: targetOf(i),
            storage: { backend: 'local', local: { path: '/var/lib/checkpoint-operator/bench' } },
          },
        },
      }),
  );
  // The client rate limit (KUBE_API_QPS, default 50/s) is lifted: the baseline loop has none,
  // and the figure is the dispatcher's own cost per Checkpoint, not the limit's. So is the limit
  // of checkpoint Jobs per node: no Job runs here, and the baseline waits for none.
  const parsed = parseConfig({
    env: {
      JOB_NAMESPACE: jobsNs,
      LOG_LEVEL: 'error',
      WATCH_NAMESPACE: apps,
      KUBE_API_QPS: '10000',
      KUBE_API_BURST: '10000',
      MAX_CHECKPOINT_JOBS_PER_NODE: '0',
    },
    argv: [],
    hostname: 'bench',
    serviceAccountNamespace: jobsNs,
  });
  if (!parsed.ok) throw new Error(parsed.message);
  const dispatcher = new Dispatcher({
    config: parsed.config,
    clients: makeClients(kc),
    jobImage: 'checkpoint-operator:bench',
    log: createLogger('bench', 'error'),
    concurrency: CONCURRENCY,
  });
  await dispatcher.startCaches();
  cpu = process.cpuUsage();
  t0 = performance.now();
  dispatcher.startReconciling();
  // Every Checkpoint has its Job and its Running status once the queue is idle.
  await dispatcher.queue.whenIdle();
  const dispatchMs = performance.now() - t0;
  // Events go out in the background (as client-go's recorder sends them); measured separately.
  await dispatcher.events.flush();
  const withEventsMs = performance.now() - t0;
  const dispatchCpu = cpuMs(cpu);
  await dispatcher.stop();
  const jobs = await batch.listNamespacedJob({ namespace: jobsNs });
  if (jobs.items.length !== n) throw new Error(`dispatcher made ${jobs.items.length} Jobs, expected ${n}`);

  await settled(core, jobsNs, n);
  return { baselineMs, baselineCpu, dispatchMs, withEventsMs, dispatchCpu };
}
