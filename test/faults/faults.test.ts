import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type LocalCluster, startLocalCluster } from '../cluster/local-cluster.js';
import { type S3Server, startMinio } from '../cluster/minio.js';
import { useOwnCluster } from '../e2e/support/cluster-context.js';
import { kubectl } from '../e2e/support/kube.js';
import { adminS3, createBucket, pendingUploads } from '../e2e/support/s3.js';
import { type FaultResult, machine, writeSection } from '../reliability/report.js';
import { CHECKPOINT_NODE, DEFAULT_NODE } from '../e2e/support/nodes.js';
import { leaderLease, operatorPods, runningJobPods, signalContainer } from './support/containers.js';
import {
  type Audit,
  applyAll,
  audit,
  checkpointObject,
  decisionProbe,
  listCheckpoints,
  OPERATOR_NS,
  objectsOf,
  runWorkloads,
  waitActedOn,
  waitAllTerminal,
} from './support/fleet.js';
import { describeRestarts, type RestartCause, RestartWatcher } from './support/restarts.js';

/**
 * The fault suite: breaks one part of a cluster of its own while Checkpoints are in flight, then
 * checks what a user would after the incident. Every Checkpoint must end terminal, none may get
 * a second Job, every archive recorded as stored must be in storage with its recorded size and
 * sha256, and the dispatcher must not crash. Figures go to docs/RELIABILITY.md.
 */
const LEASE_DURATION_S = 15;
/**
 * A frozen leader cannot give its lease up: the standby takes over once leaseDuration has passed
 * since the last renewal it saw, which it sees up to one retry period (2 s + 20% jitter) late.
 * Room is left for the lease reads and writes and for acting on the first Checkpoint while 30
 * Jobs load this 2-core machine (measured 14.6–19.0 s); a takeover that waited for a second
 * lease duration would still fail it.
 */
const TAKEOVER_BOUND_MS = (LEASE_DURATION_S + 2.4 + 5.6) * 1000;
let cluster: LocalCluster;
const results: FaultResult[] = [];
/** Every dispatcher restart, with its cause, for the whole suite. */
const restartWatcher = new RestartWatcher();
/** When the current test began: its restarts are those seen since. */
let testStartedAt = 0;

const seconds = (ms: number) => Math.round(ms / 100) / 10;

beforeAll(async () => {
  cluster = await startLocalCluster({
    operator: true,
    sparePodPorts: 1,
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const cp = cluster.controlPlane;
  useOwnCluster({
    kubeconfig: cluster.kubeconfigPath,
    kubectl: cp.binaries.kubectl,
    clusterDir: cp.dir,
    imageDir: cluster.imageDir,
    s3: {
      endpoint: cluster.s3!.endpoint,
      accessKeyId: cluster.s3!.accessKeyId,
      secretAccessKey: cluster.s3!.secretAccessKey,
    },
    clusterHost: { ip: cluster.network.host.ip, netns: cluster.network.host.netns! },
    sparePodPorts: cluster.sparePodPorts,
    pushgatewayUrl: cluster.pushgateway!.url,
    registryHost: cluster.registry!.host,
    otlpEndpoint: cluster.otlp!.endpoint,
    otlpQueryUrl: cluster.otlp!.queryUrl,
    pushgatewayPid: cluster.pushgateway!.process.pid,
    otlpPid: cluster.otlp!.process.pid,
  });
  await restartWatcher.start();
});

beforeEach(() => {
  testStartedAt = Date.now();
});

/** The dispatcher restarts of this test, each with its cause; `unexpected` counts those the fault does not explain. */
interface RestartCheck {
  unexpected: number;
  described: string;
  of(pod: string, cause?: RestartCause): number;
}

/**
 * The restarts since the test began. A fault may explain up to `expected.upTo` restarts of one
 * pod with one cause (the leader it killed, froze, or cut off from the API); any other restart,
 * or one with another cause, is unexpected and fails the case.
 */
async function restartsOfThisTest(expected?: {
  pod: string;
  cause: RestartCause;
  upTo: number;
}): Promise<RestartCheck> {
  const restarts = await restartWatcher.since(testStartedAt);
  let allowance = expected?.upTo ?? 0;
  let unexpected = 0;
  for (const r of restarts) {
    const explained =
      expected !== undefined && r.pod === expected.pod && r.cause === expected.cause ? Math.min(allowance, r.count) : 0;
    allowance -= explained;
    unexpected += r.count - explained;
  }
  return {
    unexpected,
    described: describeRestarts(restarts),
    of: (pod, cause) =>
      restarts
        .filter((r) => r.pod === pod && (cause === undefined || r.cause === cause))
        .reduce((n, r) => n + r.count, 0),
  };
}

afterAll(async () => {
  await restartWatcher.stop();
  if (results.length > 0)
    await writeSection('faults', { ranAt: new Date().toISOString(), machine: machine(), results });
  await cluster?.stop();
});

/** Creates `count` Checkpoints, one per target container, named <prefix>-<i>. */
async function createFleet(
  namespace: string,
  targets: { pod: string; container: string }[],
  prefix = 'ckpt',
  storage?: object,
): Promise<string[]> {
  const names = targets.map((_, i) => `${prefix}-${i}`);
  await applyAll(targets.map((t, i) => checkpointObject(namespace, names[i]!, t, storage)));
  return names;
}

async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

async function countPhase(namespace: string, phases: string[]): Promise<number> {
  return (await listCheckpoints(namespace)).filter((c) => phases.includes(c.status?.phase ?? '')).length;
}

/**
 * A leader that cannot renew its lease within the renew deadline (10 s) stops leading and exits
 * (it must not act on a lease it may have lost); its kubelet restarts it. An API outage that long
 * causes exactly that, so one such restart of the leader is the fault's doing, and said in the notes.
 */
function leaderExitNote(leader: string, restarts: RestartCheck): string {
  return restarts.of(leader, 'stepped down at its renew deadline') > 0
    ? ' The leader could not renew its lease within the renew deadline, stopped leading and exited; its kubelet restarted it.'
    : ' The leader kept its lease.';
}

/** Records the figures and asserts what must hold (asserted after recording, so a failure still reaches the report). */
function record(
  base: Omit<
    FaultResult,
    | 'checkpoints'
    | 'terminal'
    | 'succeeded'
    | 'failedReasons'
    | 'duplicateJobs'
    | 'archivesLostOrWrong'
    | 'held'
    | 'dispatcherRestarts'
    | 'restartCauses'
  >,
  a: Audit,
  restarts: RestartCheck,
  extraHeld = true,
): void {
  const held =
    a.terminal === a.checkpoints &&
    a.duplicateJobs === 0 &&
    a.archivesLostOrWrong === 0 &&
    restarts.unexpected === 0 &&
    extraHeld;
  results.push({
    ...base,
    checkpoints: a.checkpoints,
    terminal: a.terminal,
    succeeded: a.succeeded,
    failedReasons: a.failedReasons,
    duplicateJobs: a.duplicateJobs,
    archivesLostOrWrong: a.archivesLostOrWrong,
    dispatcherRestarts: restarts.unexpected,
    restartCauses: restarts.described,
    held,
  });
  expect(a.problems).toEqual([]);
  expect(a.terminal).toBe(a.checkpoints);
  expect(a.duplicateJobs).toBe(0);
  expect(a.archivesLostOrWrong).toBe(0);
  expect(restarts.unexpected, `unexpected dispatcher restarts: ${restarts.described}`).toBe(0);
}

/**
 * A part of the control plane goes away while 30 Checkpoints are in flight and comes back; once
 * the API server answers again, a new Checkpoint must be acted on and every one must finish.
 */
async function controlPlaneOutage(
  ns: string,
  fault: string,
  part: string,
  breakAndRestore: () => Promise<void>,
  howDown = '',
): Promise<void> {
  const targets = await runWorkloads(ns, 3, 10);
  const [probeTarget] = await runWorkloads(ns, 1, 1, { prefix: 'probe' });
  const leader = (await leaderLease()).holder;
  const names = await createFleet(ns, targets);
  await waitUntil(
    'the first Checkpoints running',
    async () => (await countPhase(ns, ['Running', 'Succeeded', 'Failed'])) >= 5,
    120_000,
    50,
  );
  const stoppedAt = Date.now();
  await breakAndRestore();
  const backAt = Date.now();
  await waitUntil(
    'the API server to answer again',
    async () => {
      await kubectl(['get', '--raw', '/readyz']);
      return true;
    },
    120_000,
    250,
  );
  await applyAll([checkpointObject(ns, 'probe', probeTarget!), decisionProbe(ns)]);
  const actedAt = await waitActedOn(ns, 'decision-probe', 180_000);
  const doneAt = await waitAllTerminal(ns, [...names, 'probe'], 300_000);
  const a = await audit(ns, [...names, 'probe']);
  const restarts = await restartsOfThisTest({ pod: leader, cause: 'stepped down at its renew deadline', upTo: 1 });
  record(
    {
      fault,
      during: `${names.length} concurrent checkpoints + 1 created once it was back`,
      recoverySeconds: seconds(actedAt - backAt),
      recoveredWhen: `${part} serving again → a Checkpoint created then is decided (PodNotFound)`,
      notes: `${part} down ${seconds(backAt - stoppedAt)} s${howDown ? ` ${howDown}` : ''}; all terminal ${seconds(doneAt - backAt)} s after it was back.${leaderExitNote(leader, restarts)}`,
    },
    a,
    restarts,
  );
}

describe('fault suite', () => {
  /**
   * A killed leader is restarted by its kubelet under the same identity and takes its own lease
   * back at once, so a Checkpoint created after the kill must be decided within one lease
   * duration. The one measured is for a missing pod: a dispatcher fails it as soon as it
   * reconciles it, while a Checkpoint for a real pod waits behind the fleet for one of the node's
   * 4 checkpoint Job slots, which measures the queue instead (4 s of the 13.3 s first measured
   * this way on the real nodes). The restart itself is the kubelet's and the node's: about 4 s
   * from the kill to the first line of the new process on the 2-core machine, then the dispatcher
   * seeks its lease while its caches fill (dispatcher/main.ts).
   */
  it('leader SIGKILLed during 30 concurrent checkpoints', async () => {
    const ns = 'fault-leader-kill';
    const targets = await runWorkloads(ns, 3, 10);
    const [probeTarget] = await runWorkloads(ns, 1, 1, { prefix: 'probe' });
    const leaseBefore = await leaderLease();
    const names = await createFleet(ns, targets);
    // Kill once the work is under way: some Checkpoints Running, most not finished.
    await waitUntil(
      'the first Checkpoints running',
      async () => (await countPhase(ns, ['Running', 'Succeeded', 'Failed'])) >= 5,
      120_000,
      50,
    );
    const killedAt = Date.now();
    expect(
      await signalContainer(cluster.nodes!, 'checkpoint-operator-system', leaseBefore.holder, 'manager', 'SIGKILL'),
    ).toBe(true);
    await applyAll([checkpointObject(ns, 'probe', probeTarget!), decisionProbe(ns)]);
    const actedAt = await waitActedOn(ns, 'decision-probe', 120_000);
    const doneAt = await waitAllTerminal(ns, [...names, 'probe'], 300_000);
    const leaseAfter = await leaderLease();
    const a = await audit(ns, [...names, 'probe']);
    // The killed container is restarted by its kubelet: one restart, caused by the fault.
    const restarts = await restartsOfThisTest({ pod: leaseBefore.holder, cause: 'killed', upTo: 1 });
    const takenBy =
      leaseAfter.holder === leaseBefore.holder
        ? 'the killed replica, restarted by its kubelet (same identity)'
        : 'the standby';
    record(
      {
        fault: 'leader SIGKILLed (container restarted by the kubelet)',
        during: `${names.length} concurrent checkpoints + 1 created after the kill`,
        recoverySeconds: seconds(actedAt - killedAt),
        recoveredWhen: 'kill → a Checkpoint created after the kill is decided (PodNotFound)',
        notes: `leader afterwards: ${takenBy}; all terminal ${seconds(doneAt - killedAt)} s after the kill (at most 4 checkpoint Jobs at once on the node); lease duration ${LEASE_DURATION_S} s.`,
      },
      a,
      restarts,
      actedAt - killedAt <= LEASE_DURATION_S * 1000,
    );
    expect(actedAt - killedAt).toBeLessThanOrEqual(LEASE_DURATION_S * 1000);
  }, 600_000);

  it('leader frozen (SIGSTOP) for 25 s during 30 checkpoints: the standby takes over, the old leader steps down', async () => {
    const ns = 'fault-leader-freeze';
    const targets = await runWorkloads(ns, 3, 10);
    const [probeTarget] = await runWorkloads(ns, 1, 1, { prefix: 'probe' });
    const leaseBefore = await leaderLease();
    const standby = (await operatorPods()).find((p) => p !== leaseBefore.holder)!;
    expect(standby).toBeDefined();
    const names = await createFleet(ns, targets);
    await waitUntil(
      'the first Checkpoints running',
      async () => (await countPhase(ns, ['Running', 'Succeeded', 'Failed'])) >= 5,
      120_000,
      50,
    );
    const frozenAt = Date.now();
    expect(
      await signalContainer(cluster.nodes!, 'checkpoint-operator-system', leaseBefore.holder, 'manager', 'SIGSTOP'),
    ).toBe(true);
    let thawed = false;
    try {
      // The frozen leader's last renewal: the lease does not change again until the standby takes it.
      await new Promise((r) => setTimeout(r, 500));
      const lastRenewal = Date.parse((await leaderLease()).renewTime);
      await applyAll([checkpointObject(ns, 'probe', probeTarget!), decisionProbe(ns)]);
      const acted = waitActedOn(ns, 'decision-probe', 120_000);
      // The freeze lasts 25 s whatever happens meanwhile: longer, and the frozen replica's liveness
      // probe (3 failures 20 s apart) would have its kubelet kill it, which is another fault.
      const freezeLeft = () => Math.max(0, 25_000 - (Date.now() - frozenAt));
      await Promise.race([acted, new Promise((r) => setTimeout(r, freezeLeft()))]);
      const leaseDuring = await leaderLease();
      await new Promise((r) => setTimeout(r, freezeLeft()));
      await signalContainer(cluster.nodes!, 'checkpoint-operator-system', leaseBefore.holder, 'manager', 'SIGCONT');
      thawed = true;
      const actedAt = await acted;
      // The thawed replica finds the lease taken and must not take it back.
      await new Promise((r) => setTimeout(r, 5_000));
      const leaseAfter = await leaderLease();
      const doneAt = await waitAllTerminal(ns, [...names, 'probe'], 300_000);
      const a = await audit(ns, [...names, 'probe']);
      // The thawed replica finds its lease gone and exits (a replica that lost the lease must not
      // act on what it believed while frozen); its kubelet restarts it as a standby, after a
      // back-off that grows with its earlier restarts. Wait for that here, so this case reports it.
      await waitUntil(
        'the thawed replica restarted',
        async () => (await restartsOfThisTest()).of(leaseBefore.holder) > 0,
        60_000,
        1000,
      ).catch(() => undefined);
      const restarts = await restartsOfThisTest({
        pod: leaseBefore.holder,
        cause: 'stepped down at its renew deadline',
        upTo: 1,
      });
      const frozenRestarts = restarts.of(leaseBefore.holder);
      const standbyLeads = leaseDuring.holder === standby && leaseAfter.holder === standby;
      record(
        {
          fault: 'leader frozen (SIGSTOP 25 s, then SIGCONT)',
          during: `${names.length} concurrent checkpoints + 1 created after the freeze`,
          recoverySeconds: seconds(actedAt - frozenAt),
          recoveredWhen: 'freeze → the standby decides a Checkpoint created after the freeze (PodNotFound)',
          notes: `the standby took the lease ${seconds(Date.parse(leaseDuring.acquireTime) - lastRenewal)} s after the frozen leader's last renewal (lease duration ${LEASE_DURATION_S} s); lease holder during the freeze: ${leaseDuring.holder === standby ? 'the standby' : leaseDuring.holder}; after the thaw: ${leaseAfter.holder === standby ? 'still the standby' : leaseAfter.holder}; the thawed replica ${frozenRestarts === 1 ? 'found its lease gone, exited and was restarted as a standby' : `restarted ${frozenRestarts} times`}; all terminal ${seconds(doneAt - frozenAt)} s after the freeze. A frozen leader cannot release its lease, so the standby must wait out the lease (${LEASE_DURATION_S} s from the last renewal the standby saw, plus up to one retry period of 2 s).`,
        },
        a,
        restarts,
        standbyLeads && actedAt - frozenAt <= TAKEOVER_BOUND_MS,
      );
      expect(standbyLeads).toBe(true);
      expect(actedAt - frozenAt).toBeLessThanOrEqual(TAKEOVER_BOUND_MS);
    } finally {
      if (!thawed)
        await signalContainer(cluster.nodes!, 'checkpoint-operator-system', leaseBefore.holder, 'manager', 'SIGCONT');
    }
  }, 600_000);

  it('API server restarted during 30 checkpoints', async () => {
    await controlPlaneOutage(
      'fault-apiserver',
      'API server restarted',
      'API server',
      () => cluster.controlPlane.restartApiServer(),
      '(stop, start, ready)',
    );
  }, 600_000);

  it('etcd stopped for 10 s during 30 checkpoints', async () => {
    await controlPlaneOutage('fault-etcd', 'etcd stopped for 10 s', 'etcd', async () => {
      await cluster.controlPlane.restartEtcd(10_000);
    });
  }, 600_000);

  it('MinIO stopped mid-upload during 10 checkpoints to S3, back after 5 s', async () => {
    const ns = 'fault-minio';
    const port = cluster.sparePodPorts[0]!;
    const dir = join(cluster.controlPlane.dir, 'minio-fault');
    const host = cluster.network.host;
    let server: S3Server = await startMinio({ dir, host, port, name: 'minio-fault' });
    let s3: S3Client = adminS3(server);
    try {
      await createBucket(s3, 'faults');
      const targets = await runWorkloads(ns, 1, 10, { memoryBytes: 64 * 1024 * 1024 });
      const [probeTarget] = await runWorkloads(ns, 1, 1, { prefix: 'probe' });
      await kubectl([
        'create',
        'secret',
        'generic',
        'fault-s3',
        '-n',
        ns,
        `--from-literal=AWS_ACCESS_KEY_ID=${server.accessKeyId}`,
        `--from-literal=AWS_SECRET_ACCESS_KEY=${server.secretAccessKey}`,
      ]);
      const storage = {
        backend: 's3',
        s3: { endpoint: server.endpoint, bucket: 'faults', prefix: 'p/', credentialsSecretRef: { name: 'fault-s3' } },
      };
      const names = await createFleet(ns, targets, 'ckpt', storage);
      await waitUntil(
        'multipart uploads under way',
        async () => (await pendingUploads(s3, 'faults')).length > 0,
        120_000,
        50,
      );
      const stoppedAt = Date.now();
      await server.process.stop(0);
      s3.destroy();
      await new Promise((r) => setTimeout(r, 5_000));
      server = await startMinio({
        dir,
        host,
        port,
        name: 'minio-fault',
        credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
      });
      s3 = adminS3(server);
      const backAt = Date.now();
      await applyAll([checkpointObject(ns, 'probe', probeTarget!, storage)]);
      const probeDoneAt = await waitAllTerminal(ns, ['probe'], 180_000);
      const doneAt = await waitAllTerminal(ns, names, 300_000);
      const a = await audit(ns, [...names, 'probe'], s3);
      // A Checkpoint that failed must leave nothing in the bucket (its upload aborted, or cleaned up).
      const failed = (await listCheckpoints(ns)).filter((c) => c.status?.phase === 'Failed');
      const strays = (await Promise.all(failed.map((c) => objectsOf(s3, 'faults', 'p/', c)))).flat();
      const probe = (await listCheckpoints(ns)).find((c) => c.metadata.name === 'probe');
      record(
        {
          fault: 'MinIO stopped mid-upload, back after 5 s',
          during: `${names.length} concurrent 64 MiB checkpoints to S3 + 1 created once it was back`,
          recoverySeconds: seconds(probeDoneAt - backAt),
          recoveredWhen: 'MinIO serving again → a new S3 Checkpoint Succeeded',
          notes: `MinIO down ${seconds(backAt - stoppedAt)} s; all terminal ${seconds(doneAt - stoppedAt)} s after it stopped; objects left by Failed Checkpoints: ${strays.length}.`,
        },
        a,
        await restartsOfThisTest(),
        strays.length === 0 && a.succeeded === a.checkpoints,
      );
      expect(strays).toEqual([]);
      // Jobs try unreachable storage again for 30 s: an outage of a few seconds fails nothing.
      expect(a.failedReasons, failed.map((c) => `${c.metadata.name}: ${c.status?.message}`).join('; ')).toEqual({});
      expect(probe?.status?.phase).toBe('Succeeded');
    } finally {
      s3.destroy();
      await server.stop();
    }
  }, 600_000);

  it('kubelet stalled for 20 s during 20 checkpoints on its node', async () => {
    const ns = 'fault-kubelet';
    const node = cluster.nodes!.byName(CHECKPOINT_NODE);
    const targets = await runWorkloads(ns, 2, 10, { nodeName: node.name });
    const names = await createFleet(ns, targets.slice(0, 10));
    await waitUntil(
      'the first Checkpoints running',
      async () => (await countPhase(ns, ['Running', 'Succeeded', 'Failed'])) >= 1,
      120_000,
      20,
    );
    const stalledAt = Date.now();
    // The real kubelet stopped (SIGSTOP): connections are accepted by the kernel and nothing answers.
    const kubelet = node.kubelet().pid;
    process.kill(kubelet, 'SIGSTOP');
    let released = false;
    try {
      // More work arrives while the kubelet answers nothing.
      const more = await createFleet(ns, targets.slice(10), 'late');
      names.push(...more);
      await new Promise((r) => setTimeout(r, 20_000));
      process.kill(kubelet, 'SIGCONT');
      released = true;
      const releasedAt = Date.now();
      const doneAt = await waitAllTerminal(ns, names, 300_000);
      const a = await audit(ns, names);
      record(
        {
          fault: 'kubelet stalled for 20 s (SIGSTOP, then SIGCONT)',
          during: `${names.length} checkpoints on that node, half created during the stall`,
          recoverySeconds: seconds(doneAt - releasedAt),
          recoveredWhen: 'kubelet answering again → every Checkpoint terminal',
          notes: `stalled ${seconds(releasedAt - stalledAt)} s.`,
        },
        a,
        await restartsOfThisTest(),
      );
    } finally {
      if (!released) process.kill(kubelet, 'SIGCONT');
    }
  }, 600_000);

  it('containerd restarted while checkpoints are under way on its node', async () => {
    const ns = 'fault-runtime';
    const node = cluster.nodes!.byName(CHECKPOINT_NODE);
    const targets = await runWorkloads(ns, 2, 10, { nodeName: node.name, memoryBytes: 32 * 1024 * 1024 });
    const names = await createFleet(ns, targets);
    await waitUntil(
      'the first Checkpoints running',
      async () => (await countPhase(ns, ['Running', 'Succeeded', 'Failed'])) >= 3,
      120_000,
      20,
    );
    const stoppedAt = Date.now();
    // Stopped and started as a service manager restarts it: running containers keep running (their shims live on).
    await node.restartContainerd(2_000);
    const backAt = Date.now();
    const doneAt = await waitAllTerminal(ns, names, 300_000);
    const a = await audit(ns, names);
    const running = JSON.parse(await kubectl(['get', 'pods', '-n', ns, '-o', 'json'])) as {
      items: { status: { containerStatuses?: { restartCount: number }[] } }[];
    };
    const workloadRestarts = running.items
      .flatMap((p) => p.status.containerStatuses ?? [])
      .reduce((n, c) => n + c.restartCount, 0);
    record(
      {
        fault: 'containerd restarted mid-checkpoint',
        during: `${names.length} concurrent 32 MiB checkpoints on that node`,
        recoverySeconds: seconds(doneAt - backAt),
        recoveredWhen: 'containerd serving again → every Checkpoint terminal',
        notes: `containerd down ${seconds(backAt - stoppedAt)} s; workload containers restarted by it: ${workloadRestarts}. A checkpoint the restart cut short fails with the kubelet's reason or is tried again; none records an archive it does not have.`,
      },
      a,
      await restartsOfThisTest(),
      workloadRestarts === 0,
    );
    expect(workloadRestarts).toBe(0);
  }, 600_000);

  it('checkpoint Job pods SIGKILLed while they work', async () => {
    const ns = 'fault-job-kill';
    const targets = await runWorkloads(ns, 2, 10, { memoryBytes: 96 * 1024 * 1024 });
    const names = await createFleet(ns, targets);
    const killed = new Set<string>();
    const killUntil = Date.now() + 60_000;
    let firstKillAt = 0;
    // Kill each Job's first pod once, as soon as it runs.
    while (Date.now() < killUntil && killed.size < names.length / 2) {
      for (const pod of await runningJobPods(ns)) {
        if (killed.has(pod)) continue;
        if (await signalContainer(cluster.nodes!, 'checkpoint-operator-system', pod, 'checkpoint', 'SIGKILL')) {
          killed.add(pod);
          firstKillAt ||= Date.now();
        }
      }
      if ((await countPhase(ns, ['Succeeded', 'Failed'])) === names.length) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(killed.size).toBeGreaterThan(0);
    const doneAt = await waitAllTerminal(ns, names, 300_000);
    const a = await audit(ns, names);
    record(
      {
        fault: 'checkpoint Job pods SIGKILLed',
        during: `${names.length} concurrent 96 MiB checkpoints; ${killed.size} Job pods killed`,
        recoverySeconds: seconds(doneAt - firstKillAt),
        recoveredWhen: 'first kill → every Checkpoint terminal',
        notes:
          'Each Job allows one more pod (backoffLimit 1): a Job whose pod was killed runs again from the start (a new kubelet checkpoint, a new archive key); the killed attempt never records anything.',
      },
      a,
      await restartsOfThisTest(),
    );
  }, 600_000);

  it('node removed while a checkpoint Job waits to run there: NodeLost at once; the node comes back', async () => {
    const ns = 'fault-node-lost';
    // The node whose kubelet keeps its own certificate: the Job never gets to run here, so that is moot.
    const node = cluster.nodes!.byName(DEFAULT_NODE);
    const [target] = await runWorkloads(ns, 1, 1, { nodeName: node.name });
    const jobPodNode = async (job: string) =>
      (
        JSON.parse(await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', `job-name=${job}`, '-o', 'json'])) as {
          items: { spec: { nodeName?: string } }[];
        }
      ).items[0]?.spec.nodeName;
    const downAt = Date.now();
    let deletedAt = 0;
    let decidedAt = 0;
    let job = '';
    // The kubelet stopped, as on a node that died: the Job's pod is bound there and never starts.
    // Then the Node object goes, as an administrator or a cloud's node controller removes a dead
    // node. The kubelet is started again at once, within the pod GC's 40 s for pods of missing
    // nodes, and registers the node anew.
    await node.restartKubelet(async () => {
      await applyAll([checkpointObject(ns, 'lost', target!)]);
      await waitUntil(
        "the checkpoint Job's pod bound to the node",
        async () => {
          job = (await listCheckpoints(ns)).find((c) => c.metadata.name === 'lost')?.status?.jobName ?? '';
          return job !== '' && (await jobPodNode(job)) === node.name;
        },
        120_000,
        250,
      );
      deletedAt = Date.now();
      await kubectl(['delete', 'node', node.name]);
      decidedAt = await waitAllTerminal(ns, ['lost'], 60_000);
    });
    const backAt = Date.now();
    await waitUntil(
      'the node registered again and Ready',
      async () =>
        (
          JSON.parse(await kubectl(['get', 'node', node.name, '-o', 'json'])) as {
            status: { conditions?: { type: string; status: string }[] };
          }
        ).status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true,
      120_000,
      500,
    );
    const readyAt = Date.now();
    // The Job was left to its owner: with the node back, its pod runs (or a new one does), finds
    // the Checkpoint already decided, and ends without recording anything over NodeLost.
    let jobEnd = 'gone';
    await waitUntil(
      'the checkpoint Job finished or gone after the node came back',
      async () => {
        const got = await kubectl(['get', 'job', job, '-n', OPERATOR_NS, '-o', 'json']).catch(() => undefined);
        if (got === undefined) return true;
        const conditions = (JSON.parse(got) as { status?: { conditions?: { type: string; status: string }[] } }).status
          ?.conditions;
        const done = conditions?.find((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True');
        if (done) jobEnd = done.type;
        return done !== undefined;
      },
      240_000,
      1000,
    );
    const jobEndedAt = Date.now();
    const a = await audit(ns, ['lost']);
    const lost = (await listCheckpoints(ns)).find((c) => c.metadata.name === 'lost')!;
    const nodeLost = lost.status?.phase === 'Failed' && lost.status.reason === 'NodeLost';
    record(
      {
        fault: 'node removed while a checkpoint Job waits there',
        during: "1 checkpoint whose Job's pod was bound to the node, its kubelet stopped",
        recoverySeconds: seconds(decidedAt - deletedAt),
        recoveredWhen: 'Node deletion asked for → the Checkpoint Failed with NodeLost',
        notes: `kubelet down ${seconds(backAt - downAt)} s; the node registered again and Ready ${seconds(readyAt - backAt)} s after its kubelet started. The Job is left to its owner: with the node back it ended (${jobEnd}) ${seconds(jobEndedAt - readyAt)} s later, and the Checkpoint was still Failed with NodeLost and no archive.`,
      },
      a,
      await restartsOfThisTest(),
      nodeLost,
    );
    expect(lost.status).toMatchObject({ phase: 'Failed', reason: 'NodeLost' });
    expect(lost.status!.message).toContain(node.name);
    expect(lost.status!.message).toContain(job);
    expect(lost.status!.archive).toBeUndefined();
  }, 600_000);
});
