import { join } from 'node:path';

/** Runs kubectl as the cluster admin; `input` is stdin. Throws on a non-zero exit. */
export type Kubectl = (args: string[], input?: string) => Promise<string>;

export interface WalkthroughOptions {
  kubectl: Kubectl;
  /** One line of progress for a person watching. */
  say: (line: string) => void;
  /** Where the nodes keep their disks: a node's /var is `<clusterDir>/nodes/<node>/var`. */
  clusterDir: string;
}

export interface WalkthroughResult {
  checkpoints: { name: string; uri: string; sizeBytes: number; sha256: string; seconds: number }[];
  expired: string[];
  kept: string[];
  restore: { from: string; image: string; seconds: number };
  /** The counter the workload keeps in memory: before the checkpoint restored from, and after the restore. */
  counter: { checkpointed: Counter; restored: Counter };
}

/** What the sample workload's counter answers: an identity drawn when the process started, and its count. */
export interface Counter {
  id: string;
  count: number;
}

const POLICY = 'walkthrough';
const POD = 'my-app-pod-0';
const NAMESPACE = 'default';
const NEVER = '0 0 1 1 *';

const sampleWorkload = `apiVersion: v1
kind: Pod
metadata:
  name: ${POD}
  namespace: ${NAMESPACE}
spec:
  terminationGracePeriodSeconds: 2
  # The node set up for checkpoint and restore (the kubelet's certificate signed by the cluster
  # CA, containerd restoring through CreateContainer): see test/cluster/node/real-nodes.ts.
  nodeSelector:
    kubernetes.io/hostname: node-a
  containers:
  - name: main
    # busybox and the counter (test/cluster/images/counter.c): it counts in memory and serves
    # {"id":…,"count":…} on port 8080.
    image: registry.example.com/sample-app:1.0
`;

const policyYaml = `apiVersion: checkpoint.example.com/v1alpha1
kind: CheckpointPolicy
metadata:
  name: ${POLICY}
spec:
  storage:
    backend: local
    local:
      path: /var/lib/checkpoint-operator/walkthrough
  retention:
    maxCount: 2
    schedule: "${NEVER}"
`;

const checkpointYaml = (name: string) => `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata:
  name: ${name}
  namespace: ${NAMESPACE}
spec:
  target:
    podName: ${POD}
    containerName: main
  policyRef: ${POLICY}
`;

/**
 * The tour `npm run local` gives a newcomer, on a running local cluster: checkpoint the sample
 * workload, let retention expire the oldest checkpoints, restore the pod from the newest. Each
 * run uses names of its own, so it can run again on the same cluster (and a test drives it).
 */
export async function walkthrough(o: WalkthroughOptions): Promise<WalkthroughResult> {
  const run = Date.now().toString(36);
  const step = (n: number, text: string) => o.say(`step ${n}/4: ${text}`);

  step(1, `the sample workload: pod ${NAMESPACE}/${POD} (container main)`);
  await deploySampleWorkload(o.kubectl);
  await o.kubectl(['apply', '-f', '-'], policyYaml);
  o.say(
    `  CheckpointPolicy ${POLICY}: archives on the node under /var/lib/checkpoint-operator/walkthrough, keep the newest 2 per container`,
  );

  step(2, 'three checkpoints of the running container, one after another');
  const checkpoints: WalkthroughResult['checkpoints'] = [];
  const counters = new Map<string, Counter>();
  for (let i = 1; i <= 3; i++) {
    const name = `walkthrough-${run}-${i}`;
    const t0 = Date.now();
    const counter = await readCounter(o);
    counters.set(name, counter);
    o.say(`  the counter in memory before ${name}: ${counter.count} (process ${counter.id})`);
    await o.kubectl(['apply', '-f', '-'], checkpointYaml(name));
    const c = await waitFor(o, name, (x) => x.status?.phase === 'Succeeded' || x.status?.phase === 'Failed', 120_000);
    if (c.status?.phase !== 'Succeeded')
      throw new Error(`Checkpoint ${name} ${c.status?.phase}: ${c.status?.reason} ${c.status?.message}`);
    const a = c.status.archive!;
    const seconds = (Date.now() - t0) / 1000;
    checkpoints.push({ name, uri: a.uri, sizeBytes: a.sizeBytes, sha256: a.sha256, seconds });
    const local = /^local:\/\/([^/]+)(\/.*)$/.exec(a.uri);
    o.say(`  ${name}: Succeeded in ${seconds.toFixed(1)}s — ${a.uri}`);
    o.say(
      `    ${(a.sizeBytes / 1024 / 1024).toFixed(2)} MiB, sha256 ${a.sha256}${local ? `; on this machine: ${join(o.clusterDir, 'nodes', local[1]!, local[2]!)}` : ''}`,
    );
  }

  step(3, `a retention sweep (maxCount 2), started now from the policy's CronJob`);
  const cronJob = await waitForField(
    o,
    ['get', 'checkpointpolicies.checkpoint.example.com', POLICY, '-o', 'jsonpath={.status.cronJobName}'],
    30_000,
  );
  const sweep = `walkthrough-sweep-${run}`;
  const t0 = Date.now();
  await o.kubectl(['create', 'job', sweep, `--from=cronjob/${cronJob}`, '-n', 'checkpoint-operator-system']);
  await o.kubectl([
    'wait',
    '--for=condition=complete',
    `job/${sweep}`,
    '-n',
    'checkpoint-operator-system',
    '--timeout=120s',
  ]);
  const ours = checkpoints.map((c) => c.name);
  // Expired Checkpoints go once their cleanup Job has removed the archive (their finalizer).
  const deadline = Date.now() + 120_000;
  let remaining = await listNames(o);
  while (ours.filter((n) => remaining.includes(n)).length > 2 && Date.now() < deadline) {
    await sleep(500);
    remaining = await listNames(o);
  }
  const kept = ours.filter((n) => remaining.includes(n));
  const expired = ours.filter((n) => !remaining.includes(n));
  const status =
    JSON.parse(await o.kubectl(['get', 'checkpointpolicies.checkpoint.example.com', POLICY, '-o', 'json'])).status ??
    {};
  o.say(
    `  sweep ${sweep} done in ${((Date.now() - t0) / 1000).toFixed(1)}s: kept ${kept.join(', ')}; expired ${expired.join(', ') || 'none'} (their archives deleted by cleanup Jobs)`,
  );
  o.say(
    `  policy status: lastSweepTime ${status.lastSweepTime}, checkpointsKept ${status.checkpointsKept}, checkpointsDeleted ${status.checkpointsDeleted}`,
  );

  const from = kept.at(-1) ?? ours.at(-1)!;
  step(4, `restore the pod from ${from}: kubectl annotate pod ${POD} checkpoint.example.com/restore-from=${from}`);
  const r0 = Date.now();
  await o.kubectl([
    'annotate',
    'pod',
    POD,
    '-n',
    NAMESPACE,
    '--overwrite',
    `checkpoint.example.com/restore-from=${from}`,
  ]);
  const pod = await waitForPod(
    o,
    (p) => {
      const a = p.metadata?.annotations ?? {};
      return (
        a['checkpoint.example.com/restore-handled'] === from &&
        (a['checkpoint.example.com/restore-status'] === 'Succeeded' ||
          a['checkpoint.example.com/restore-status'] === 'Failed')
      );
    },
    180_000,
  );
  const annotations = pod.metadata.annotations;
  if (annotations['checkpoint.example.com/restore-status'] !== 'Succeeded') {
    throw new Error(
      `restore ${annotations['checkpoint.example.com/restore-status']}: ${annotations['checkpoint.example.com/restore-message'] ?? ''}`,
    );
  }
  const image = pod.spec.containers.find((c: { name: string }) => c.name === 'main')?.image ?? '';
  const seconds = (Date.now() - r0) / 1000;
  o.say(`  restored in ${seconds.toFixed(1)}s: container main now runs from the checkpoint image ${image}`);
  o.say(`  (restore-status=Succeeded, restored-from=${annotations['checkpoint.example.com/restored-from']})`);
  await o.kubectl(['wait', '--for=condition=Ready', `pod/${POD}`, '-n', NAMESPACE, '--timeout=60s']);
  const restored = await readCounter(o);
  const checkpointed = counters.get(from)!;
  o.say(
    `  the counter after the restore: ${restored.count} (process ${restored.id}): ${
      restored.id === checkpointed.id
        ? `the process checkpointed at ${checkpointed.count} goes on counting`
        : 'a new process: the restore did not bring the checkpointed one back'
    }`,
  );
  return { checkpoints, expired, kept, restore: { from, image, seconds }, counter: { checkpointed, restored } };
}

/** The pod the walk-through and the README's examples act on (applying it again changes nothing). */
export async function deploySampleWorkload(kubectl: Kubectl): Promise<void> {
  await kubectl(['apply', '-f', '-'], sampleWorkload);
  await kubectl(['wait', '--for=condition=Ready', `pod/${POD}`, '-n', NAMESPACE, '--timeout=120s']);
}

/** The counter's answer, read inside the container (busybox wget), as a user would with kubectl exec. */
async function readCounter(o: WalkthroughOptions): Promise<Counter> {
  return JSON.parse(
    await o.kubectl(['exec', POD, '-n', NAMESPACE, '-c', 'main', '--', 'wget', '-qO-', 'http://127.0.0.1:8080/']),
  ) as Counter;
}

interface CheckpointView {
  status?: {
    phase?: string;
    reason?: string;
    message?: string;
    archive?: { uri: string; sizeBytes: number; sha256: string };
  };
}

async function waitFor(
  o: WalkthroughOptions,
  name: string,
  done: (c: CheckpointView) => boolean,
  timeoutMs: number,
): Promise<CheckpointView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = JSON.parse(
      await o.kubectl(['get', 'checkpoints.checkpoint.example.com', name, '-n', NAMESPACE, '-o', 'json']),
    ) as CheckpointView;
    if (done(c)) return c;
    if (Date.now() > deadline)
      throw new Error(`Checkpoint ${name} did not finish in ${timeoutMs / 1000}s: ${JSON.stringify(c.status)}`);
    await sleep(300);
  }
}

async function waitForPod(
  o: WalkthroughOptions,
  done: (p: { metadata?: { annotations?: Record<string, string> } }) => boolean,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = JSON.parse(await o.kubectl(['get', 'pod', POD, '-n', NAMESPACE, '-o', 'json']));
    if (done(p)) return p;
    if (Date.now() > deadline)
      throw new Error(
        `the restore of pod ${POD} did not finish in ${timeoutMs / 1000}s: ${JSON.stringify(p.metadata?.annotations)}`,
      );
    await sleep(300);
  }
}

async function waitForField(o: WalkthroughOptions, args: string[], timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = (await o.kubectl(args)).trim();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`kubectl ${args.join(' ')} stayed empty for ${timeoutMs / 1000}s`);
    await sleep(300);
  }
}

async function listNames(o: WalkthroughOptions): Promise<string[]> {
  return (
    await o.kubectl([
      'get',
      'checkpoints.checkpoint.example.com',
      '-n',
      NAMESPACE,
      '-o',
      'jsonpath={.items[*].metadata.name}',
    ])
  )
    .split(/\s+/)
    .filter(Boolean);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
