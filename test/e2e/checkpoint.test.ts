import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  eventsFor,
  getCheckpoint,
  runWorkload,
  sha256File,
  waitForAllTerminal,
  waitForPhase,
  waitForTerminal,
} from './support/checkpoints.js';
import { kubectl } from './support/kube.js';
import { pinnedNode } from '../../src/actions/shared/action-job.js';
import { stalledStorage } from './support/stalled-storage.js';
import {
  CHECKPOINT_NODE,
  claimDirectory,
  DEFAULT_NODE,
  nodeRoot,
  OTHER_CHECKPOINT_NODE,
  runtimeShimOf,
} from './support/nodes.js';

const NS = 'ckpt-e2e';
const OPERATOR_NS = 'checkpoint-operator-system';
const root = join(import.meta.dirname, '../..');

async function apply(yaml: string): Promise<void> {
  await kubectl(['apply', '-f', '-'], yaml);
}

function checkpointYaml(name: string, spec: string, namespace = NS): string {
  return `apiVersion: checkpoint.example.com/v1alpha1\nkind: Checkpoint\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec}`;
}

const LOCAL = `  storage:\n    backend: local\n    local:\n      path: /var/lib/checkpoint-operator/archives\n`;

/** The archive path on the node or claim, from the URI the status records. */
async function archiveFileOf(uri: string): Promise<string> {
  const local = /^local:\/\/([^/]+)(\/.*)$/.exec(uri);
  if (local) return join(nodeRoot(local[1]!), local[2]!);
  const pvc = /^pvc:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (pvc) {
    return join(await claimDirectory(OPERATOR_NS, pvc[1]!), pvc[2]!);
  }
  throw new Error(`unexpected archive URI ${uri}`);
}

/** Kubelet archives still on the node for one pod's container (the Job must remove its own). */
async function kubeletArchivesOn(node: string, pod: string, container: string, namespace = NS): Promise<string[]> {
  const files = await readdir(join(nodeRoot(node), 'var/lib/kubelet/checkpoints')).catch(() => []);
  return files.filter((f) => f.startsWith(`checkpoint-${pod}_${namespace}-${container}-`));
}

async function jobsOwnedBy(name: string): Promise<string[]> {
  const out = await kubectl([
    'get',
    'jobs',
    '-n',
    OPERATOR_NS,
    '-l',
    `checkpoint.example.com/owner-namespace=${NS},checkpoint.example.com/owner-name=${name}`,
    '-o',
    'name',
  ]);
  return out.split('\n').filter(Boolean);
}

async function operatorRestarts(): Promise<number> {
  const pods = JSON.parse(
    await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']),
  );
  return pods.items.reduce(
    (n: number, p: { status: { containerStatuses?: { restartCount: number }[] } }) =>
      n + (p.status.containerStatuses ?? []).reduce((m, s) => m + s.restartCount, 0),
    0,
  );
}

beforeAll(async () => {
  await kubectl(['create', 'namespace', NS]).catch(() => undefined);
  await kubectl(['create', 'namespace', 'ckpt-e2e-other']).catch(() => undefined);
  await runWorkload(NS, 'my-app-pod-0', { containers: ['main', 'sidecar'] });
});

describe('checkpoint end to end', () => {
  it('stores the archive on the node (local backend) with the size and sha256 it records', async () => {
    await apply(
      checkpointYaml(
        'local-seed',
        `  target:\n    podName: my-app-pod-0\n    namespace: ${NS}\n    containerName: main\n${LOCAL}`,
      ),
    );
    const c = await waitForTerminal(NS, 'local-seed');
    expect(c.status).toMatchObject({ phase: 'Succeeded', reason: 'ArchiveStored', containerName: 'main' });
    const archive = c.status!.archive!;
    expect(archive.backend).toBe('local');
    expect(archive.uri).toMatch(
      new RegExp(
        `^local://${c.status!.nodeName}/var/lib/checkpoint-operator/archives/${NS}/local-seed/${c.metadata.uid}/checkpoint-my-app-pod-0_${NS}-main-\\d{8}T\\d{6}Z\\.tar$`,
      ),
    );
    const file = await archiveFileOf(archive.uri);
    const s = await stat(file);
    expect(s.size).toBe(archive.sizeBytes);
    expect(s.mode & 0o777).toBe(0o600);
    expect(await sha256File(file)).toBe(archive.sha256);
    expect(archive.image).toBe('registry.example.com/sample-app:1.0');
    // containerd names the runtime by its shim (CRI-O would say runc).
    expect(archive.runtime).toBe('io.containerd.runc.v2');
    expect(await kubeletArchivesOn(c.status!.nodeName!, 'my-app-pod-0', 'main')).toEqual([]);
    const condition = c.status!.conditions!.find((x) => x.type === 'Succeeded');
    expect(condition).toMatchObject({ status: 'True', reason: 'ArchiveStored' });
    expect(c.status!.observedGeneration).toBe(c.metadata.generation);

    const printed = await kubectl(['get', 'ckpt', 'local-seed', '-n', NS]);
    expect(printed).toMatch(
      new RegExp(`local-seed\\s+Succeeded\\s+my-app-pod-0\\s+main\\s+${c.status!.nodeName}\\s+${archive.sizeBytes}\\s`),
    );
    await expect
      .poll(async () => (await eventsFor(NS, 'local-seed')).map((e) => e.reason))
      .toEqual(expect.arrayContaining(['JobCreated', 'ArchiveStored']));
  });

  it('stores to a claim made from the seed policy pvcTemplate (pvc backend)', async () => {
    await kubectl(['apply', '-f', join(root, 'manifests/samples/example-checkpoint-policy.yaml')]);
    await apply(
      checkpointYaml(
        'pvc-seed',
        `  target:\n    podName: my-app-pod-0\n    containerName: main\n  policyRef: default-policy\n`,
      ),
    );
    const c = await waitForTerminal(NS, 'pvc-seed');
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(c.status!.archive!.uri).toMatch(/^pvc:\/\/checkpoint-archives-default-policy\//);
    const claim = JSON.parse(
      await kubectl(['get', 'pvc', 'checkpoint-archives-default-policy', '-n', OPERATOR_NS, '-o', 'json']),
    );
    expect(claim.spec.accessModes).toEqual(['ReadWriteOnce']);
    expect(claim.spec.resources.requests.storage).toBe('10Gi');
    const file = await archiveFileOf(c.status!.archive!.uri);
    expect((await stat(file)).size).toBe(c.status!.archive!.sizeBytes);
    expect(await sha256File(file)).toBe(c.status!.archive!.sha256);
    expect(await kubeletArchivesOn(c.status!.nodeName!, 'my-app-pod-0', 'main')).toEqual([]);
  });

  it("defaults the container to the pod's first and the namespace to the Checkpoint's", async () => {
    await apply(checkpointYaml('defaults', `  target:\n    podName: my-app-pod-0\n${LOCAL}`));
    const c = await waitForTerminal(NS, 'defaults');
    expect(c.status).toMatchObject({ phase: 'Succeeded', containerName: 'main' });
    const job = JSON.parse(await kubectl(['get', 'job', c.status!.jobName!, '-n', OPERATOR_NS, '-o', 'json']));
    const input = JSON.parse(
      job.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'CHECKPOINT_JOB_INPUT').value,
    );
    expect(input.target).toEqual({ namespace: NS, podName: 'my-app-pod-0', containerName: 'main' });
  });

  it('checkpoints one container one Job at a time, so Checkpoints asked for together each keep their own archive', async () => {
    const names = ['together-1', 'together-2', 'together-3'];
    await apply(
      names
        .map((n) => checkpointYaml(n, `  target:\n    podName: my-app-pod-0\n    containerName: sidecar\n${LOCAL}`))
        .join('\n---\n'),
    );
    const done = await Promise.all(names.map((n) => waitForTerminal(NS, n)));
    for (const c of done) expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    const files = await Promise.all(done.map((c) => archiveFileOf(c.status!.archive!.uri)));
    for (const [i, file] of files.entries()) expect(await sha256File(file)).toBe(done[i]!.status!.archive!.sha256);
    // Never two at once: each Job started after the previous one had finished.
    const spans = done
      .map((c) => [Date.parse(c.status!.startTime!), Date.parse(c.status!.completionTime!)] as const)
      .sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('runs the Job on the pod node, as the Job ServiceAccount, bounded', async () => {
    const c = await getCheckpoint(NS, 'defaults');
    const job = JSON.parse(await kubectl(['get', 'job', c.status!.jobName!, '-n', OPERATOR_NS, '-o', 'json']));
    const pod = JSON.parse(await kubectl(['get', 'pod', 'my-app-pod-0', '-n', NS, '-o', 'json']));
    expect(job.metadata.name.length).toBeLessThanOrEqual(63);
    // Pinned by a required affinity on the node's name (the scheduler places it), not nodeName.
    expect(pinnedNode(job.spec.template.spec)).toBe(pod.spec.nodeName);
    expect(job.spec.template.spec.serviceAccountName).toBe('checkpoint-operator-job');
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(job.spec.backoffLimit).toBeLessThanOrEqual(1);
    expect(job.spec.activeDeadlineSeconds).toBeGreaterThan(0);
    expect(job.metadata.labels).toMatchObject({
      'checkpoint.example.com/action': 'checkpoint',
      'checkpoint.example.com/owner-name': 'defaults',
    });
    const operator = JSON.parse(
      await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']),
    );
    for (const p of operator.items) expect(p.spec.serviceAccountName).toBe('checkpoint-operator-controller-manager');
  });

  it('leaves at most FINISHED_JOBS_KEPT (10) finished checkpoint Jobs behind a burst of 200, the newest among them', async () => {
    // Two nodes that checkpoint with the defaults, so the burst meets both nodes' Job slots.
    const pods = ['burst-a', 'burst-b', 'burst-c', 'burst-d'];
    for (const [i, p] of pods.entries())
      await runWorkload(NS, p, { nodeName: i % 2 === 0 ? CHECKPOINT_NODE : OTHER_CHECKPOINT_NODE });
    const names = Array.from({ length: 200 }, (_, i) => `burst-${i}`);
    await apply(
      names
        .map((n, i) => checkpointYaml(n, `  target:\n    podName: ${pods[i % pods.length]}\n${LOCAL}`))
        .join('\n---\n'),
    );
    const done = await waitForAllTerminal(NS, names, 840_000);
    for (const c of done) expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    const finishedCheckpointJobs = async () => {
      const jobs = JSON.parse(
        await kubectl([
          'get',
          'jobs',
          '-n',
          OPERATOR_NS,
          '-l',
          'checkpoint.example.com/action=checkpoint',
          '-o',
          'json',
        ]),
      ) as { items: { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] };
      return jobs.items
        .filter((j) =>
          j.status?.conditions?.some((c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True'),
        )
        .map((j) => j.metadata.name);
    };
    // The dispatcher looks every 30 s.
    await expect
      .poll(async () => (await finishedCheckpointJobs()).length, { timeout: 90_000, interval: 2000 })
      .toBeLessThanOrEqual(10);
    const newest = [...done].sort(
      (a, b) => Date.parse(b.status!.completionTime!) - Date.parse(a.status!.completionTime!),
    )[0]!;
    expect(await finishedCheckpointJobs()).toContain(newest.status!.jobName);
    // Their pods went with them: no checkpoint pod is left of a deleted Job.
    await expect
      .poll(
        async () => {
          const kept = new Set(
            JSON.parse(await kubectl(['get', 'jobs', '-n', OPERATOR_NS, '-o', 'json'])).items.map(
              (j: { metadata: { name: string } }) => j.metadata.name,
            ),
          );
          const pods = JSON.parse(
            await kubectl([
              'get',
              'pods',
              '-n',
              OPERATOR_NS,
              '-l',
              'checkpoint.example.com/action=checkpoint',
              '-o',
              'json',
            ]),
          ) as { items: { metadata: { labels: Record<string, string> } }[] };
          return pods.items.filter((p) => !kept.has(p.metadata.labels['job-name'])).length;
        },
        { timeout: 60_000, interval: 2000 },
      )
      .toBe(0);
    // Their Checkpoints keep what they recorded.
    for (const c of done)
      expect((await getCheckpoint(NS, c.metadata.name)).status?.archive?.sha256).toBe(c.status!.archive!.sha256);
  }, 1_200_000);

  describe('fails clearly, with a reason, a message and an Event, and the dispatcher keeps running', () => {
    const failures: [string, string, string, (() => Promise<void>)?][] = [
      ['PodNotFound', 'no-pod', `  target:\n    podName: does-not-exist\n${LOCAL}`],
      ['ContainerNotFound', 'no-container', `  target:\n    podName: my-app-pod-0\n    containerName: nope\n${LOCAL}`],
      ['PolicyNotFound', 'no-policy', `  target:\n    podName: my-app-pod-0\n  policyRef: no-such-policy\n`],
      [
        'StorageNotConfigured',
        'no-storage',
        `  target:\n    podName: my-app-pod-0\n  policyRef: empty-policy\n`,
        async () => {
          await apply(
            'apiVersion: checkpoint.example.com/v1alpha1\nkind: CheckpointPolicy\nmetadata:\n  name: empty-policy\nspec:\n  retention:\n    maxCount: 3\n',
          );
        },
      ],
      [
        'CrossNamespaceDenied',
        'cross-denied',
        `  target:\n    podName: other-pod\n    namespace: ckpt-e2e-other\n${LOCAL}`,
      ],
      [
        'LocalPathNotAllowed',
        'bad-root',
        `  target:\n    podName: my-app-pod-0\n  storage:\n    backend: local\n    local:\n      path: /etc/checkpoints\n`,
      ],
    ];
    it.each(failures)('%s', async (reason, name, spec, before) => {
      await before?.();
      await apply(checkpointYaml(name, spec));
      const c = await waitForTerminal(NS, name);
      expect(c.status).toMatchObject({ phase: 'Failed', reason });
      expect(c.status!.message!.length).toBeGreaterThan(15);
      expect(c.status!.conditions!.find((x) => x.type === 'Succeeded')).toMatchObject({ status: 'False', reason });
      await expect
        .poll(async () => (await eventsFor(NS, name)).filter((e) => e.type === 'Warning').map((e) => e.reason))
        .toContain(reason);
      expect(await jobsOwnedBy(name)).toEqual([]);
    });

    it('CheckpointDisabledOnNode for a pod on a node labelled checkpoint=disabled: refused before any Job', async () => {
      await runWorkload(NS, 'on-disabled-node', { nodeName: DEFAULT_NODE });
      await kubectl(['label', 'node', DEFAULT_NODE, 'checkpoint.example.com/checkpoint=disabled']);
      onTestFinished(async () => {
        await kubectl(['label', 'node', DEFAULT_NODE, 'checkpoint.example.com/checkpoint-']);
      });
      // The dispatcher learns labels from its node watch: give the event a moment to arrive.
      await new Promise((r) => setTimeout(r, 1000));
      await apply(checkpointYaml('node-disabled', `  target:\n    podName: on-disabled-node\n${LOCAL}`));
      const c = await waitForTerminal(NS, 'node-disabled');
      expect(c.status).toMatchObject({ phase: 'Failed', reason: 'CheckpointDisabledOnNode' });
      expect(c.status!.message).toContain(
        `node ${DEFAULT_NODE} is labelled checkpoint.example.com/checkpoint=disabled`,
      );
      await expect
        .poll(async () =>
          (await eventsFor(NS, 'node-disabled')).filter((e) => e.type === 'Warning').map((e) => e.reason),
        )
        .toContain('CheckpointDisabledOnNode');
      expect(await jobsOwnedBy('node-disabled')).toEqual([]);
    });

    it('KubeletTLSError for a pod on a node whose kubelet keeps its self-signed certificate (the default settings verify against the cluster CA)', async () => {
      await runWorkload(NS, 'on-self-signed-node', { nodeName: DEFAULT_NODE });
      await apply(checkpointYaml('self-signed-kubelet', `  target:\n    podName: on-self-signed-node\n${LOCAL}`));
      const c = await waitForTerminal(NS, 'self-signed-kubelet');
      expect(c.status).toMatchObject({ phase: 'Failed', reason: 'KubeletTLSError' });
      for (const way of [
        'serverTLSBootstrap',
        'KUBELET_CA_BUNDLE_SECRET',
        'KUBELET_ACCESS=proxy',
        'KUBELET_INSECURE_SKIP_TLS_VERIFY=true',
      ])
        expect(c.status!.message).toContain(way);
      expect(c.status!.archive).toBeUndefined();
      await expect
        .poll(async () =>
          (await eventsFor(NS, 'self-signed-kubelet')).filter((e) => e.type === 'Warning').map((e) => e.reason),
        )
        .toContain('KubeletTLSError');
    });

    it('KubeletCheckpointFailed when the kubelet answers 500 (CRIU cannot dump an io_uring instance)', async () => {
      await runWorkload(NS, 'criu-fails', { program: 'undumpable' });
      await apply(checkpointYaml('kubelet-500', `  target:\n    podName: criu-fails\n${LOCAL}`));
      const c = await waitForTerminal(NS, 'kubelet-500');
      expect(c.status).toMatchObject({ phase: 'Failed', reason: 'KubeletCheckpointFailed' });
      expect(c.status!.message).toContain('criu failed');
      await expect
        .poll(async () => (await eventsFor(NS, 'kubelet-500')).filter((e) => e.type === 'Warning').map((e) => e.reason))
        .toContain('KubeletCheckpointFailed');
      expect(c.status!.archive).toBeUndefined();
    });

    it("KubeletTimeout when the runtime does not answer within the kubelet's runtime request timeout", async () => {
      // The kubelet gives the runtime max(timeoutSeconds, its runtimeRequestTimeout: 2 minutes by
      // default), so a short timeoutSeconds alone never ends a checkpoint early. The container's
      // shim is stopped instead: the container keeps running and the checkpoint request waits.
      await runWorkload(NS, 'criu-stalls');
      const shim = await runtimeShimOf(NS, 'criu-stalls');
      process.kill(shim, 'SIGSTOP');
      onTestFinished(() => {
        process.kill(shim, 'SIGCONT');
      });
      await apply(
        checkpointYaml('kubelet-stall', `  target:\n    podName: criu-stalls\n  timeoutSeconds: 1\n${LOCAL}`),
      );
      const c = await waitForTerminal(NS, 'kubelet-stall', 240_000);
      expect(c.status).toMatchObject({ phase: 'Failed', reason: 'KubeletTimeout' });
      expect(c.status!.message).toMatch(/deadline exceeded/i);
      expect(c.status!.archive).toBeUndefined();
    }, 300_000);

    it('JobFailed when the Job pods are killed mid-way', async () => {
      await runWorkload(NS, 'slow-checkpoint');
      // Its storage answers nothing: each pod of the Job waits on its upload until it is killed.
      const stalled = await stalledStorage();
      onTestFinished(() => stalled.close());
      await apply(checkpointYaml('job-killed', `  target:\n    podName: slow-checkpoint\n${stalled.yaml}`));
      await waitForPhase(NS, 'job-killed', 'Running');
      const [job] = await jobsOwnedBy('job-killed');
      const deadline = Date.now() + 60_000;
      // Kill every pod the Job starts (its retry included) until the Job gives up.
      while (Date.now() < deadline) {
        const c = await getCheckpoint(NS, 'job-killed');
        if (c.status?.phase === 'Failed') break;
        await kubectl([
          'delete',
          'pods',
          '-n',
          OPERATOR_NS,
          '-l',
          `job-name=${job!.split('/')[1]}`,
          '--grace-period=0',
          '--force',
          '--wait=false',
        ]).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 500));
      }
      const c = await waitForTerminal(NS, 'job-killed');
      expect(c.status).toMatchObject({ phase: 'Failed', reason: 'JobFailed' });
      expect(c.status!.message).toContain(job!.split('/')[1]);
    });

    it('keeps JobLost when the Job is deleted mid-way and its orphaned pod stores the archive afterwards', async () => {
      await runWorkload(NS, 'orphaned-upload');
      const stalled = await stalledStorage();
      onTestFinished(() => stalled.close());
      await apply(checkpointYaml('job-orphaned', `  target:\n    podName: orphaned-upload\n${stalled.yaml}`));
      await waitForPhase(NS, 'job-orphaned', 'Running');
      await expect.poll(() => stalled.heldConnections(), { timeout: 60_000 }).toBeGreaterThan(0);
      // The Job goes but its pod stays, mid-upload: the dispatcher decides JobLost while the pod
      // still holds an archive it is about to store.
      const [job] = await jobsOwnedBy('job-orphaned');
      const jobName = job!.split('/')[1]!;
      await kubectl(['delete', 'job', jobName, '-n', OPERATOR_NS, '--cascade=orphan']);
      onTestFinished(async () => {
        await kubectl(['delete', 'pods', '-n', OPERATOR_NS, '-l', `job-name=${jobName}`, '--wait=false']);
      });
      const decided = await waitForTerminal(NS, 'job-orphaned');
      expect(decided.status).toMatchObject({ phase: 'Failed', reason: 'JobLost' });

      stalled.release();
      const podPhase = async () =>
        (
          JSON.parse(await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', `job-name=${jobName}`, '-o', 'json'])) as {
            items: { status: { phase: string } }[];
          }
        ).items[0]?.status.phase;
      await expect.poll(podPhase, { timeout: 120_000, interval: 500 }).toMatch(/^(Succeeded|Failed)$/);
      // Its archive reached storage, but the decision the dispatcher made stands: never Succeeded
      // over a Failed that users and retention have already seen.
      const after = await getCheckpoint(NS, 'job-orphaned');
      expect(after.status).toMatchObject({ phase: 'Failed', reason: 'JobLost' });
      expect(after.status!.archive).toBeUndefined();
      const logs = await kubectl(['logs', '-n', OPERATOR_NS, '-l', `job-name=${jobName}`, '--tail=-1']);
      expect(logs).toContain('that decision stands');
    });

    it('the dispatcher never restarted', async () => {
      expect(await operatorRestarts()).toBe(0);
    });
  });

  it('reaches another namespace only when the policy lists it', async () => {
    await runWorkload('ckpt-e2e-other', 'other-pod');
    await apply(
      'apiVersion: checkpoint.example.com/v1alpha1\nkind: CheckpointPolicy\nmetadata:\n  name: reach-other\nspec:\n  targetNamespaces: ["ckpt-e2e-other"]\n',
    );
    await apply(
      checkpointYaml(
        'cross-allowed',
        `  target:\n    podName: other-pod\n    namespace: ckpt-e2e-other\n  policyRef: reach-other\n${LOCAL}`,
      ),
    );
    const c = await waitForTerminal(NS, 'cross-allowed');
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(c.status!.archive!.uri).toContain('checkpoint-other-pod_ckpt-e2e-other-main-');
  });

  it('finishes a Checkpoint with one Job when the leader dies mid-flight', async () => {
    await runWorkload(NS, 'big-memory', { memoryMiB: 384 });
    await apply(checkpointYaml('leader-dies', `  target:\n    podName: big-memory\n${LOCAL}`));
    await waitForPhase(NS, 'leader-dies', 'Running');
    const lease = JSON.parse(
      await kubectl(['get', 'lease', 'checkpoint-operator-leader', '-n', OPERATOR_NS, '-o', 'json']),
    );
    await kubectl([
      'delete',
      'pod',
      lease.spec.holderIdentity,
      '-n',
      OPERATOR_NS,
      '--grace-period=0',
      '--force',
      '--wait=false',
    ]);
    const c = await waitForTerminal(NS, 'leader-dies', 120_000);
    expect(c.status?.phase, c.status?.message).toBe('Succeeded');
    expect(await sha256File(await archiveFileOf(c.status!.archive!.uri))).toBe(c.status!.archive!.sha256);
    expect(await jobsOwnedBy('leader-dies')).toHaveLength(1);
    await kubectl(['rollout', 'status', '-n', OPERATOR_NS, 'deployment/checkpoint-operator', '--timeout=90s']);
    await expect
      .poll(
        async () => {
          const l = JSON.parse(
            await kubectl(['get', 'lease', 'checkpoint-operator-leader', '-n', OPERATOR_NS, '-o', 'json']),
          );
          return l.spec.holderIdentity !== '' && l.spec.holderIdentity !== lease.spec.holderIdentity;
        },
        { timeout: 30_000 },
      )
      .toBe(true);
  });
});
