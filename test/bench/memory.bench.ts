import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { KubeConfig, type V1Job } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import type { Archive, Checkpoint } from '../../src/api/checkpoint.js';
import { runningStatus, succeededStatus } from '../../src/api/checkpoint-status.js';
import {
  API_GROUP,
  API_GROUP_VERSION,
  API_VERSION,
  ARCHIVE_FINALIZER,
  CHECKPOINT_KIND,
  CHECKPOINT_PLURAL,
} from '../../src/api/constants.js';
import { archiveKey } from '../../src/storage/archive-key.js';
import { buildCheckpointJob } from '../../src/actions/checkpoint/job.js';
import { fromKubeConfig } from '../../src/kube/credentials.js';
import { isAlreadyExists } from '../../src/kube/errors.js';
import { LeanKubeClient } from '../../src/kube/lean-client.js';
import { JOB_SERVICE_ACCOUNTS, jobName, LABELS, MANAGED_BY } from '../../src/kube/names.js';
import type { ControlPlane } from '../cluster/control-plane.js';
import { freePort } from '../cluster/ports.js';
import type { Figure } from './figures.js';
import { bareNodePeakRss, bundle, bundleManager, median, MiB } from './workers/bundle.js';

/** Requests in flight while the objects are made (LeanKubeClient keeps up to 32 connections alive). */
const CONCURRENCY = 32;
const OPERATOR_NAMESPACE = 'checkpoint-operator-system';
const LOCAL_PATH = '/var/lib/checkpoint-operator/archives';
/**
 * Keeps the built-in Job controller off the bench's Jobs (spec.managedBy, GA in the Kubernetes
 * the test cluster runs). The control plane runs kube-controller-manager: `suspend: true` alone
 * would still have the Job controller write a Suspended condition on each of the 10,000 Jobs at
 * its own 20 requests a second, a stream of updates through the dispatcher's Job cache for
 * minutes. Skipped by the controller, the Jobs create no pods and can be given the status a
 * finished checkpoint Job has (Complete), which is what a terminal Checkpoint's Job looks like.
 */
const INERT_JOB_MANAGER = 'bench.checkpoint.example.com/inert';

/**
 * Dispatcher memory: the real dispatcher program (src/dispatcher/main.ts bundled as tsup bundles
 * it, run with node as the image runs it, leader election on as in the Deployment, watching all
 * namespaces) with N terminal Checkpoints (Succeeded, archive recorded, finalizer present:
 * nothing to do for any of them) spread over 10 namespaces and their N finished Jobs (labelled
 * as the dispatcher labels its Jobs, so they are in its Job cache) on a control plane of its own.
 * Its RSS once /readyz answers 200 and its CPU has gone quiet: the peak (VmHWM, the first full
 * list of each cache included) and the steady RSS after. The reference is a bare process holding
 * client-node informers over the same objects (the floor of caching them with the same library),
 * settled and sampled the same way; bare node start-up is logged beside it.
 */
export async function memoryBenchmark(
  cp: ControlPlane,
  opts: { checkpoints?: number; namespaces?: number } = {},
): Promise<Figure[]> {
  const n = opts.checkpoints ?? 10_000;
  const namespaces = Array.from({ length: opts.namespaces ?? 10 }, (_, i) => `bench-mem-${i}`);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const lean = new LeanKubeClient(fromKubeConfig(kc));
  const dir = await mkdtemp(join(tmpdir(), 'bench-memory-'));
  try {
    for (const ns of [OPERATOR_NAMESPACE, ...namespaces]) {
      await lean
        .post('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } })
        .catch(ignoreExists);
    }
    const t0 = performance.now();
    let made = 0;
    await pool(
      Array.from({ length: n }, (_, i) => i),
      CONCURRENCY,
      async (i) => {
        await makeTerminalCheckpoint(lean, namespaces[i % namespaces.length]!, i);
        if (++made % 2000 === 0)
          process.stderr.write(
            `memory: ${made} of ${n} Checkpoints and Jobs made (${seconds(performance.now() - t0)})\n`,
          );
      },
    );
    process.stderr.write(
      `memory: ${n} terminal Checkpoints and ${n} finished Jobs made in ${seconds(performance.now() - t0)}\n`,
    );

    const [manager, reference] = await Promise.all([
      bundleManager(join(dir, 'dispatcher')),
      bundle('informer-reference', dir),
    ]);
    const env = { PATH: process.env.PATH, KUBECONFIG: cp.kubeconfigPath };

    // The reference first: its list requests must not overlap the dispatcher's.
    const ref = spawn(
      process.execPath,
      [reference, JSON.stringify({ kubeconfig: cp.kubeconfigPath, jobNamespace: OPERATOR_NAMESPACE })],
      { env, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let refMeasure: Measure;
    try {
      const started = performance.now();
      const line = await firstLine(ref, 300_000);
      const held = JSON.parse(line) as { checkpoints: number; jobs: number };
      if (held.checkpoints !== n || held.jobs !== n)
        throw new Error(
          `the reference informers hold ${held.checkpoints} Checkpoints and ${held.jobs} Jobs, expected ${n} of each`,
        );
      refMeasure = await settleAndSample(ref.pid!);
      process.stderr.write(
        `memory: reference synced in ${seconds(performance.now() - started)}, quiet after ${seconds(refMeasure.settleMs)}; peak ${mib(refMeasure.peak)}, steady ${mib(refMeasure.steady)} (samples ${refMeasure.samples.map(mib).join(', ')})\n`,
      );
    } finally {
      await kill(ref);
    }

    const [healthPort, metricsPort] = await Promise.all([freePort(), freePort()]);
    const log = createWriteStream(join(dir, 'dispatcher.log'));
    const dispatcher = spawn(process.execPath, [manager, '--leader-elect'], {
      env: {
        ...env,
        ...(await deploymentNodeOptions()),
        WATCH_NAMESPACE: '',
        POD_NAME: 'bench-dispatcher',
        POD_NAMESPACE: OPERATOR_NAMESPACE,
        JOB_IMAGE: 'checkpoint-operator:bench',
        HEALTH_PROBE_PORT: String(healthPort),
        METRICS_PORT: String(metricsPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dispatcher.stdout!.pipe(log);
    dispatcher.stderr!.pipe(log);
    let measure: Measure;
    try {
      const started = performance.now();
      await waitReady(dispatcher, healthPort, 300_000, join(dir, 'dispatcher.log'));
      const readyMs = performance.now() - started;
      measure = await settleAndSample(dispatcher.pid!);
      process.stderr.write(
        `memory: dispatcher ready in ${seconds(readyMs)}, quiet after ${seconds(measure.settleMs)}; peak ${mib(measure.peak)}, steady ${mib(measure.steady)} (samples ${measure.samples.map(mib).join(', ')})\n`,
      );
    } finally {
      await kill(dispatcher);
      log.end();
    }
    // Nothing was there to dispatch: the Jobs are still the bench's own, and no Checkpoint moved.
    const jobs = await lean.get<{ items: V1Job[] }>(
      `/apis/batch/v1/namespaces/${OPERATOR_NAMESPACE}/jobs?labelSelector=${encodeURIComponent(`${LABELS.managedBy}=${MANAGED_BY}`)}`,
    );
    const foreign = jobs.items.filter((j) => j.spec?.managedBy !== INERT_JOB_MANAGER);
    if (jobs.items.length !== n || foreign.length > 0)
      throw new Error(
        `after the dispatcher ran: ${jobs.items.length} Jobs (${foreign.length} made by it), expected the ${n} of the bench`,
      );
    const dispatcherLog = await readFile(join(dir, 'dispatcher.log'), 'utf8');
    const acted = dispatcherLog
      .split('\n')
      .filter((l) => /"level":(40|50)|checkpoint Job created|reconcile failed/.test(l));
    if (acted.length > 0)
      process.stderr.write(`memory: the dispatcher logged ${acted.length} warnings or actions, e.g. ${acted[0]}\n`);
    const bare = await bareNodePeakRss();
    process.stderr.write(`memory: bare node start-up peak RSS ${mib(bare)}\n`);

    const baselineName = `bare client-node informers (ListWatch) over the same ${n} Checkpoints and ${n} Jobs, nothing else (bare node start-up: ${(bare / MiB).toFixed(0)} MiB)`;
    return [
      {
        name: `dispatcher peak RSS (VmHWM) with ${n} terminal Checkpoints in ${namespaces.length} namespaces and their ${n} Jobs cached, up to ready and settled`,
        value: measure.peak / MiB,
        unit: 'MiB',
        baseline: refMeasure.peak / MiB,
        baselineName: `peak RSS of ${baselineName}`,
        target: { maxValue: 256 },
      },
      {
        name: `dispatcher steady RSS, same caches, once settled (median of ${measure.samples.length} samples)`,
        value: measure.steady / MiB,
        unit: 'MiB',
        baseline: refMeasure.steady / MiB,
        baselineName: `steady RSS of ${baselineName}`,
        target: undefined,
      },
    ];
  } finally {
    await lean.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Checkpoint as it is once its Job has stored the archive, and that Job, finished. */
async function makeTerminalCheckpoint(lean: LeanKubeClient, namespace: string, i: number): Promise<void> {
  const name = `app-${i}-checkpoint`;
  const podName = `app-${i % 500}`;
  const containerName = `c${Math.floor(i / 500) % 20}`;
  const nodeName = `node-${i % 20}`;
  const base = `/apis/${API_GROUP}/${API_VERSION}/namespaces/${namespace}/${CHECKPOINT_PLURAL}`;
  const created = await lean.post<Checkpoint>(base, {
    apiVersion: API_GROUP_VERSION,
    kind: CHECKPOINT_KIND,
    // The finalizer, as the dispatcher adds it before a Job stores anything.
    metadata: { name, finalizers: [ARCHIVE_FINALIZER] },
    spec: { target: { podName, containerName }, storage: { backend: 'local', local: { path: LOCAL_PATH } } },
  });
  const uid = created.metadata.uid!;
  const checkpoint = { namespace, name, uid };
  const target = { namespace, podName, containerName };
  const startedAt = new Date(Date.now() - 60_000);
  const storedAt = new Date(startedAt.getTime() + 20_000);
  const job = jobName('checkpoint', checkpoint);
  const key = archiveKey({ checkpoint, target, time: storedAt });
  const archive: Archive = {
    backend: 'local',
    uri: `local://${nodeName}${LOCAL_PATH}/${key}`,
    key,
    sizeBytes: 1_073_745_920 + i,
    sha256: uid.replace(/-/g, '').padEnd(64, '0').slice(0, 64),
    createdAt: storedAt.toISOString(),
    nodeName,
    image: `registry.example.com/team/app-${i % 50}:v1.${i % 7}`,
    runtime: 'runc',
    containerId: uid.replace(/-/g, '').repeat(2).slice(0, 64),
    checkpointedAt: new Date(storedAt.getTime() - 5_000).toISOString(),
  };
  // What the dispatcher writes when it starts the Job, then what the Job writes once stored.
  const running = runningStatus(created, { jobName: job, nodeName, containerName }, startedAt);
  const status = { ...running, ...succeededStatus({ ...created, status: running }, archive, storedAt) };
  await lean.mergePatch(`${base}/${name}/status`, { status });

  const body = buildCheckpointJob(
    {
      checkpoint,
      target,
      nodeName,
      kubelet: { access: 'direct', port: 10250, insecureSkipTLSVerify: false },
      storage: { backend: 'local', nodeName, path: LOCAL_PATH },
    },
    {
      namespace: OPERATOR_NAMESPACE,
      image: 'checkpoint-operator:bench',
      serviceAccountName: JOB_SERVICE_ACCOUNTS.checkpoint,
      logLevel: 'info',
    },
  );
  body.spec!.managedBy = INERT_JOB_MANAGER;
  const jobs = `/apis/batch/v1/namespaces/${OPERATOR_NAMESPACE}/jobs`;
  await lean.post(jobs, body);
  // The status the Job controller leaves on a Job whose one pod succeeded.
  const done = {
    status: 'True',
    reason: 'CompletionsReached',
    message: 'Reached expected number of succeeded pods',
    lastProbeTime: storedAt.toISOString(),
    lastTransitionTime: storedAt.toISOString(),
  };
  await lean.mergePatch(`${jobs}/${job}/status`, {
    status: {
      startTime: startedAt.toISOString(),
      completionTime: storedAt.toISOString(),
      succeeded: 1,
      ready: 0,
      terminating: 0,
      uncountedTerminatedPods: {},
      conditions: [
        { type: 'SuccessCriteriaMet', ...done },
        { type: 'Complete', ...done },
      ],
    },
  });
}

interface Measure {
  peak: number;
  steady: number;
  samples: number[];
  settleMs: number;
}

/**
 * Waits until the process has been quiet (under 5% of a core) for 3 seconds in a row, at most
 * 3 minutes, then reads VmRSS 5 times a second apart (steady: their median) and VmHWM last.
 */
async function settleAndSample(pid: number): Promise<Measure> {
  const started = performance.now();
  const deadline = Date.now() + 180_000;
  let last = await cpuTicks(pid);
  let quiet = 0;
  while (quiet < 3 && Date.now() < deadline) {
    await sleep(1000);
    const now = await cpuTicks(pid);
    quiet = now - last <= 5 ? quiet + 1 : 0;
    last = now;
  }
  const settleMs = performance.now() - started;
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await sleep(1000);
    samples.push((await memory(pid)).rss);
  }
  return { peak: (await memory(pid)).hwm, steady: median(samples), samples, settleMs };
}

/** utime + stime in clock ticks (100 a second): fields 14 and 15 of /proc/<pid>/stat. */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

async function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const exited = once(child, 'exit').then(([code]) => {
      throw new Error(`reference informer exited (${code}) before it synced`);
    });
    const line = once(lines, 'line').then(([l]) => l as string);
    return await Promise.race([line, exited]);
  } finally {
    clearTimeout(timer);
    child.stdout!.resume();
  }
}

async function waitReady(child: ChildProcess, port: number, timeoutMs: number, logPath: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`the dispatcher exited (${child.exitCode}):\n${(await readFile(logPath, 'utf8')).slice(-2000)}`);
    if ((await readyz(port)) === 200) return;
    await sleep(200);
  }
  throw new Error(
    `the dispatcher was not ready within ${timeoutMs / 1000} s:\n${(await readFile(logPath, 'utf8')).slice(-2000)}`,
  );
}

function readyz(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/readyz', timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Runs fn over items with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

function ignoreExists(err: unknown): void {
  if (!isAlreadyExists(err)) throw err;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

/** NODE_OPTIONS as the Deployment sets them for the dispatcher: it is measured as it is run. */
async function deploymentNodeOptions(): Promise<{ NODE_OPTIONS?: string }> {
  const text = await readFile(
    join(import.meta.dirname, '../../manifests/manager/checkpoint-operator-deployment.yaml'),
    'utf8',
  );
  const deployment = parseYaml(text) as {
    spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } };
  };
  const manager = deployment.spec.template.spec.containers.find((c) => c.name === 'manager');
  const value = manager?.env?.find((e) => e.name === 'NODE_OPTIONS')?.value;
  return value ? { NODE_OPTIONS: value } : {};
}
