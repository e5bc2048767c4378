import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CoreV1Api, type KubeConfig, ListWatch, PatchStrategy, setHeaderOptions, type V1Container, type V1ContainerStatus, type V1Pod, Watch } from '@kubernetes/client-node';
import { trackChild } from '../processes.js';
import { isCheckpointImageCandidate, pullCheckpointImage, pullSecretCredentials } from './checkpoint-image-puller.js';
import { programFor } from './image-rules.js';
import { MemoryCgroup, parseMemoryQuantity, peakRss } from './memory-cgroup.js';
import { fieldValue, type Mount, VolumeManager } from './volumes.js';
import { writeFile } from 'node:fs/promises';

export interface RunnerSettings {
  nodeName: string;
  nodeIP: string;
  nodeRoot: string;
  /** The node's network namespace: pods share it, as host-network pods share a node's. */
  netns: string;
  /** The API server, as pods reach it (the cluster host's address). */
  apiserver: URL;
  /** The operator's build that images of checkpoint-operator run (see image-rules.ts). */
  imageDir: string;
  /** Node identity (system:node:<name>) for everything a kubelet does. */
  kubeConfig: KubeConfig;
  /** Admin client for reads the Node authorizer does not grant this simplified kubelet. */
  admin: CoreV1Api;
}

interface RunningContainer {
  name: string;
  image: string;
  /** The pulled image's digest reference, for images pulled from a registry. */
  imageID: string | undefined;
  /** What the container's root filesystem comes from: its image, or for a restored container the checkpoint's. */
  rootfsImage: string | undefined;
  containerId: string;
  restartCount: number;
  process: ChildProcess | undefined;
  startedAt: Date | undefined;
  state: V1ContainerStatus['state'];
  lastState: V1ContainerStatus['lastState'];
  exited: Promise<void> | undefined;
}

interface PodRuntime {
  pod: V1Pod;
  containers: Map<string, RunningContainer>;
  startTime: Date;
  terminating: boolean;
  finished: boolean;
  /** Set while a status the API server did not take waits to be sent again. */
  statusRetry?: NodeJS.Timeout | undefined;
  /**
   * The pod's volumes, prepared once when it starts. As with a kubelet, they belong to the pod:
   * a container restarted after a crash finds them as they were, with no API request on the way.
   */
  volumePaths?: Map<string, string>;
}

/**
 * Runs the pods bound to one simulated node as local processes, the way a kubelet runs them in
 * containers: volumes prepared and bind-mounted at their paths in a private mount namespace,
 * env resolved, status reported through pods/status, restarts by restartPolicy, graceful
 * deletion, and a container recreated when its image changes. Checkpoint images (references by
 * digest to a loopback registry) are pulled and checked first, as a runtime with checkpoint
 * restore does; the restored process is the container's own program.
 */
export class PodRunner {
  private readonly pods = new Map<string, PodRuntime>();
  private readonly core: CoreV1Api;
  private readonly volumes: VolumeManager;
  private readonly watch: ListWatch<V1Pod>;
  private stopped = false;

  constructor(private readonly s: RunnerSettings) {
    this.core = s.kubeConfig.makeApiClient(CoreV1Api);
    this.volumes = new VolumeManager(s.kubeConfig, s.nodeRoot, s.admin);
    const fieldSelector = `spec.nodeName=${s.nodeName}`;
    this.watch = new ListWatch<V1Pod>('/api/v1/pods', new Watch(s.kubeConfig),
      () => this.core.listPodForAllNamespaces({ fieldSelector }), false, undefined, fieldSelector);
    this.watch.on('add', (p) => this.sync(p));
    this.watch.on('update', (p) => this.sync(p));
    this.watch.on('delete', (p) => void this.forget(p));
    this.watch.on('error', () => { if (!this.stopped) setTimeout(() => void this.watch.start(), 1000); });
  }

  async start(): Promise<void> {
    await this.watch.start();
  }

  /** Containers running now: what the kubelet checkpoint endpoint may checkpoint. */
  runningContainer(namespace: string, podName: string, containerName: string): { pod: V1Pod; container: RunningContainer } | undefined {
    for (const rt of this.pods.values()) {
      if (rt.pod.metadata?.namespace === namespace && rt.pod.metadata?.name === podName && !rt.terminating) {
        const c = rt.containers.get(containerName);
        if (c?.process && c.state?.running) return { pod: rt.pod, container: c };
      }
    }
    return undefined;
  }

  findPod(namespace: string, podName: string): V1Pod | undefined {
    for (const rt of this.pods.values()) if (rt.pod.metadata?.namespace === namespace && rt.pod.metadata?.name === podName) return rt.pod;
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch.stop();
    await Promise.all([...this.pods.values()].map((rt) => this.killAll(rt, 1000)));
  }

  private sync(pod: V1Pod): void {
    if (this.stopped) return;
    const uid = pod.metadata!.uid!;
    const rt = this.pods.get(uid);
    if (!rt) {
      if (pod.metadata?.deletionTimestamp) { void this.finishDeletion(pod); return; }
      if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
      const runtime: PodRuntime = { pod, containers: new Map(), startTime: new Date(), terminating: false, finished: false };
      this.pods.set(uid, runtime);
      void this.startPod(runtime).catch((err) => this.retryStart(runtime, err, 1));
      return;
    }
    rt.pod = pod;
    if (pod.metadata?.deletionTimestamp && !rt.terminating) {
      rt.terminating = true;
      void this.terminate(rt);
      return;
    }
    for (const spec of pod.spec?.containers ?? []) {
      const c = rt.containers.get(spec.name);
      if (c && c.image !== spec.image && !rt.terminating) void this.recreate(rt, spec);
    }
  }

  private async startPod(rt: PodRuntime): Promise<void> {
    const paths = await this.volumes.prepare(rt.pod);
    rt.volumePaths = paths;
    for (const spec of rt.pod.spec?.containers ?? []) {
      rt.containers.set(spec.name, {
        name: spec.name, image: spec.image ?? '', imageID: undefined, rootfsImage: undefined, containerId: '', restartCount: 0, process: undefined, startedAt: undefined,
        state: { waiting: { reason: 'ContainerCreating' } }, lastState: {}, exited: undefined,
      });
    }
    rt.pod.status = { ...rt.pod.status, hostIP: this.s.nodeIP, podIP: this.s.nodeIP };
    for (const spec of rt.pod.spec?.containers ?? []) {
      if (await this.pullImage(rt, spec)) await this.launch(rt, spec, paths);
    }
    await this.report(rt);
  }

  private async launch(rt: PodRuntime, spec: V1Container, paths: Map<string, string>): Promise<void> {
    const c = rt.containers.get(spec.name)!;
    const program = programFor(spec.image ?? '', spec.command, spec.args, this.s.imageDir, process.execPath);
    if (!program.ok) {
      c.state = { waiting: { reason: program.reason, message: program.message } };
      return;
    }
    const env = await this.environment(rt.pod, spec);
    const mounts: Mount[] = (spec.volumeMounts ?? []).map((m) => ({
      source: join(paths.get(m.name) ?? '/nonexistent', m.subPath ?? ''), target: m.mountPath, readOnly: Boolean(m.readOnly),
    }));
    const logDir = join(this.s.nodeRoot, 'var/log/pods', `${rt.pod.metadata!.namespace}_${rt.pod.metadata!.name}_${rt.pod.metadata!.uid}`, spec.name);
    mkdirSync(logDir, { recursive: true });
    const fd = openSync(join(logDir, `${c.restartCount}.log`), 'a', 0o600);
    const limit = parseMemoryQuantity(spec.resources?.limits?.memory);
    const cgroup = limit ? await MemoryCgroup.create(this.s.nodeName, rt.pod.metadata!.uid!, `${spec.name}-${c.restartCount}`, limit) : undefined;
    // The node's network namespace and a private mount namespace: volumes appear at their
    // container paths for this process only.
    const script = [
      'set -e',
      ...mounts.flatMap((m) => [
        `mkdir -p ${q(m.target)}`,
        `mount --bind ${q(m.source)} ${q(m.target)}`,
        ...(m.readOnly ? [`mount -o remount,bind,ro ${q(m.target)}`] : []),
      ]),
      spec.workingDir ? `cd ${q(spec.workingDir)}` : ':',
      'exec "$@"',
    ].join('\n');
    const inNetns = ['ip', 'netns', 'exec', this.s.netns, 'unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, 'launcher', ...program.argv];
    // The cgroup is joined first: `ip netns exec` mounts its own /sys, which hides the cgroup tree.
    const argv = cgroup ? ['/bin/sh', '-c', `${cgroup.joinCommand()} && exec "$@"`, 'cgroup-join', ...inNetns] : inNetns;
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ['ignore', fd, fd], env, detached: true,
    });
    closeSync(fd);
    trackChild(child);
    c.process = child;
    c.image = spec.image ?? '';
    c.containerId = randomBytes(32).toString('hex');
    c.startedAt = new Date();
    c.state = { running: { startedAt: c.startedAt } };
    // Peak RSS, sampled while it runs (VmHWM only grows), kept beside the log for tests and benchmarks.
    let peak = 0;
    const sampler = setInterval(() => void peakRss(child.pid!).then((b) => { if (b && b > peak) peak = b; }), 100);
    const restart = c.restartCount;
    c.exited = new Promise((resolve) => child.on('exit', (code, signal) => {
      clearInterval(sampler);
      void (async () => {
        await writeFile(join(logDir, `${restart}.peak-rss-bytes`), String(peak)).catch(() => undefined);
        const oom = (await cgroup?.oomKilled()) ?? false;
        await cgroup?.remove();
        await this.onExit(rt, spec, c, child, oom ? 137 : code ?? (signal ? 128 + 9 : 1), oom ? 'OOMKilled' : undefined);
      })().finally(resolve);
    }));
  }

  private async onExit(rt: PodRuntime, spec: V1Container, c: RunningContainer, child: ChildProcess, exitCode: number, reason?: string): Promise<void> {
    if (c.process !== child) return; // replaced by a recreate
    c.process = undefined;
    const terminated = { exitCode, reason: reason ?? (exitCode === 0 ? 'Completed' : 'Error'), startedAt: c.startedAt, finishedAt: new Date(), containerID: `checkpoint-sim://${c.containerId}` };
    c.state = { terminated };
    if (rt.terminating || this.stopped) return;
    const policy = rt.pod.spec?.restartPolicy ?? 'Always';
    if (policy === 'Always' || (policy === 'OnFailure' && exitCode !== 0)) {
      c.lastState = { terminated };
      c.restartCount++;
      // A kubelet's restart does not wait on its status report (the status manager sends it on
      // its own); the report of the start below goes after this one, so neither overtakes.
      const exitReported = this.report(rt);
      // CrashLoopBackOff, compressed: the first restart at once, as the kubelet does, then 1 s
      // doubling to 30 s (the kubelet: 10 s doubling to 5 min).
      const backoffMs = c.restartCount <= 1 ? 0 : Math.min(30_000, 1000 * 2 ** Math.min(5, c.restartCount - 2));
      await new Promise((r) => setTimeout(r, backoffMs));
      if (!rt.terminating && !this.stopped) {
        await this.launch(rt, spec, rt.volumePaths ?? await this.volumes.prepare(rt.pod));
        await exitReported;
        await this.report(rt);
      } else {
        await exitReported;
      }
      return;
    }
    await this.report(rt);
  }

  private async recreate(rt: PodRuntime, spec: V1Container): Promise<void> {
    const c = rt.containers.get(spec.name)!;
    // Claimed at once: pod updates arriving while the old container stops or the image is pulled
    // must not start a second recreate.
    c.image = spec.image ?? '';
    c.imageID = undefined;
    c.rootfsImage = undefined;
    const old = c.process;
    c.process = undefined;
    if (old) await killGroup(old, 2000);
    c.lastState = { terminated: { exitCode: 137, reason: 'Replaced', finishedAt: new Date(), containerID: `checkpoint-sim://${c.containerId}` } };
    c.state = { waiting: { reason: 'ContainerCreating' } };
    const pulled = await this.pullImage(rt, spec);
    if (c.image !== (spec.image ?? '')) return; // a later image change took over meanwhile
    if (!pulled) {
      await this.report(rt);
      return;
    }
    c.restartCount++;
    await this.launch(rt, spec, await this.volumes.prepare(rt.pod));
    await this.report(rt);
  }

  /** Pulls a checkpoint image before its container starts; false leaves the container waiting with the kubelet's reason. */
  private async pullImage(rt: PodRuntime, spec: V1Container): Promise<boolean> {
    const c = rt.containers.get(spec.name)!;
    const image = spec.image ?? '';
    if (!isCheckpointImageCandidate(image)) return true;
    const pulled = await pullCheckpointImage(image, await pullSecretCredentials(this.s.admin, rt.pod, image), this.s.nodeRoot);
    if (c.image !== image) return false; // superseded: the newer image's pull sets the state
    if (!pulled.ok) {
      c.state = { waiting: { reason: pulled.reason, message: pulled.message } };
      return false;
    }
    c.imageID = pulled.imageID;
    c.rootfsImage = pulled.rootfsImage;
    return true;
  }

  private async terminate(rt: PodRuntime): Promise<void> {
    const grace = (rt.pod.metadata?.deletionGracePeriodSeconds ?? rt.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000;
    await this.killAll(rt, grace);
    await Promise.all([...rt.containers.values()].map((c) => c.exited));
    await this.report(rt, true);
    await this.finishDeletion(rt.pod);
    this.pods.delete(rt.pod.metadata!.uid!);
  }

  /** As the kubelet does once containers are gone: remove the pod object for good. */
  private async finishDeletion(pod: V1Pod): Promise<void> {
    await this.s.admin.deleteNamespacedPod({
      name: pod.metadata!.name!, namespace: pod.metadata!.namespace!, gracePeriodSeconds: 0,
      // In the body: with a body present the API server takes DeleteOptions from it, not the query.
      body: { gracePeriodSeconds: 0, preconditions: { uid: pod.metadata!.uid! } },
    }).catch(() => undefined);
  }

  private async forget(pod: V1Pod): Promise<void> {
    const rt = this.pods.get(pod.metadata!.uid!);
    if (!rt) return;
    rt.terminating = true;
    this.pods.delete(pod.metadata!.uid!);
    await this.killAll(rt, 1000);
  }

  private async killAll(rt: PodRuntime, graceMs: number): Promise<void> {
    await Promise.all([...rt.containers.values()].map(async (c) => {
      const p = c.process;
      if (p) await killGroup(p, graceMs);
    }));
  }

  private async environment(pod: V1Pod, spec: V1Container): Promise<NodeJS.ProcessEnv> {
    const ns = pod.metadata!.namespace!;
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      HOME: '/root',
      HOSTNAME: pod.metadata!.name!,
      KUBERNETES_SERVICE_HOST: this.s.apiserver.hostname,
      KUBERNETES_SERVICE_PORT: this.s.apiserver.port,
      KUBERNETES_SERVICE_PORT_HTTPS: this.s.apiserver.port,
    };
    for (const from of spec.envFrom ?? []) {
      if (from.configMapRef) {
        const cm = await this.core.readNamespacedConfigMap({ name: from.configMapRef.name!, namespace: ns }).catch(() => undefined);
        for (const [k, v] of Object.entries(cm?.data ?? {})) env[`${from.prefix ?? ''}${k}`] = v;
      } else if (from.secretRef) {
        const s = await this.core.readNamespacedSecret({ name: from.secretRef.name!, namespace: ns }).catch(() => undefined);
        for (const [k, v] of Object.entries(s?.data ?? {})) env[`${from.prefix ?? ''}${k}`] = Buffer.from(v, 'base64').toString('utf8');
      }
    }
    const podWithIPs: V1Pod = { ...pod, status: { ...pod.status, hostIP: this.s.nodeIP, podIP: this.s.nodeIP } };
    for (const e of spec.env ?? []) {
      if (e.value !== undefined) env[e.name] = expand(e.value, env);
      else if (e.valueFrom?.fieldRef) env[e.name] = fieldValue(podWithIPs, e.valueFrom.fieldRef.fieldPath);
      else if (e.valueFrom?.secretKeyRef) {
        const ref = e.valueFrom.secretKeyRef;
        const s = await this.core.readNamespacedSecret({ name: ref.name!, namespace: ns }).catch((err) => { if (!ref.optional) throw err; return undefined; });
        const v = s?.data?.[ref.key];
        if (v !== undefined) env[e.name] = Buffer.from(v, 'base64').toString('utf8');
        else if (!ref.optional) throw new Error(`couldn't find key ${ref.key} in Secret ${ns}/${ref.name}`);
      } else if (e.valueFrom?.configMapKeyRef) {
        const ref = e.valueFrom.configMapKeyRef;
        const cm = await this.core.readNamespacedConfigMap({ name: ref.name!, namespace: ns }).catch((err) => { if (!ref.optional) throw err; return undefined; });
        const v = cm?.data?.[ref.key];
        if (v !== undefined) env[e.name] = v;
        else if (!ref.optional) throw new Error(`couldn't find key ${ref.key} in ConfigMap ${ns}/${ref.name}`);
      }
    }
    return env;
  }

  /**
   * A pod whose set-up failed (a volume, a Secret, its token) is tried again with backoff for as
   * long as it exists, as the kubelet does on each pod sync: right after a pod is bound, the API
   * server's node authorizer may not yet let this node read what the pod needs.
   */
  private async retryStart(rt: PodRuntime, err: unknown, attempt: number): Promise<void> {
    await this.reportFailure(rt, err);
    if ([...rt.containers.values()].some((c) => c.process)) return; // partly started: leave it as it is
    await new Promise((r) => setTimeout(r, Math.min(500 * 2 ** (attempt - 1), 10_000)));
    if (this.stopped || rt.terminating || this.pods.get(rt.pod.metadata!.uid!) !== rt) return;
    rt.containers.clear();
    await this.startPod(rt).catch((next) => this.retryStart(rt, next, attempt + 1));
  }

  private async reportFailure(rt: PodRuntime, err: unknown): Promise<void> {
    for (const c of rt.containers.values()) c.state = { waiting: { reason: 'CreateContainerConfigError', message: String((err as Error)?.message ?? err) } };
    if (rt.containers.size === 0) {
      for (const spec of rt.pod.spec?.containers ?? []) {
        rt.containers.set(spec.name, {
          name: spec.name, image: spec.image ?? '', imageID: undefined, rootfsImage: undefined, containerId: '', restartCount: 0, process: undefined, startedAt: undefined,
          state: { waiting: { reason: 'CreateContainerConfigError', message: String((err as Error)?.message ?? err) } }, lastState: {}, exited: undefined,
        });
      }
    }
    await this.report(rt);
  }

  private async report(rt: PodRuntime, final = false): Promise<void> {
    if (this.stopped || (rt.terminating && !final)) return;
    const statuses: V1ContainerStatus[] = (rt.pod.spec?.containers ?? []).map((spec) => {
      const c = rt.containers.get(spec.name);
      const running = Boolean(c?.state?.running);
      return {
        name: spec.name,
        image: c?.image ?? spec.image ?? '',
        imageID: c?.imageID ?? `sha256:${createHash('sha256').update(c?.image ?? spec.image ?? '').digest('hex')}`,
        containerID: c?.containerId ? `checkpoint-sim://${c.containerId}` : undefined,
        ready: running,
        started: running,
        restartCount: c?.restartCount ?? 0,
        state: c?.state ?? { waiting: { reason: 'ContainerCreating' } },
        lastState: c?.lastState ?? {},
      } as V1ContainerStatus;
    });
    const policy = rt.pod.spec?.restartPolicy ?? 'Always';
    const allDone = statuses.every((s) => s.state?.terminated);
    const anyFailed = statuses.some((s) => (s.state?.terminated?.exitCode ?? 0) !== 0);
    let phase = statuses.some((s) => s.state?.running) ? 'Running' : 'Pending';
    if (allDone && policy === 'Never') phase = anyFailed ? 'Failed' : 'Succeeded';
    // A deleted pod whose containers have stopped ends in a terminal phase, whatever its
    // restartPolicy (as kubelets do since 1.27); only then does its final delete take effect.
    if (allDone && final) phase = anyFailed ? 'Failed' : 'Succeeded';
    if (allDone && policy === 'OnFailure' && !anyFailed) phase = 'Succeeded';
    const ready = statuses.every((s) => s.ready);
    const now = new Date();
    const cond = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False', lastTransitionTime: now });
    const status = {
      phase,
      hostIP: this.s.nodeIP,
      hostIPs: [{ ip: this.s.nodeIP }],
      podIP: this.s.nodeIP,
      podIPs: [{ ip: this.s.nodeIP }],
      startTime: rt.startTime,
      conditions: [cond('PodScheduled', true), cond('Initialized', true), cond('ContainersReady', ready), cond('Ready', ready)],
      containerStatuses: statuses,
    };
    rt.pod.status = { ...rt.pod.status, ...status } as V1Pod['status'];
    if (phase === 'Succeeded' || phase === 'Failed') rt.finished = true;
    await this.core.patchNamespacedPodStatus(
      { name: rt.pod.metadata!.name!, namespace: rt.pod.metadata!.namespace!, body: { status } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ).catch((err: { code?: number }) => {
      // As the kubelet's status manager does: a status the API server did not take (it was down,
      // restarting, or timed out) is sent again, with whatever the pod's state is by then.
      if (err.code === 404 || rt.statusRetry || this.stopped || (!final && !this.pods.has(rt.pod.metadata!.uid!))) return;
      rt.statusRetry = setTimeout(() => { rt.statusRetry = undefined; void this.report(rt, final); }, 1000);
    });
  }
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** $(VAR) references to earlier variables, as the kubelet expands them. */
function expand(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
}

async function killGroup(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try { process.kill(-child.pid, 'SIGTERM'); } catch { return; }
  const t = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
  await exited;
  clearTimeout(t);
}
