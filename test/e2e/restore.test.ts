import { open, readFile } from 'node:fs/promises';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import { clusterContext, clusterServerHost } from './support/cluster-context.js';
import { stalledStorage } from './support/stalled-storage.js';
import { CHECKPOINT_NODE, DEFAULT_NODE, OTHER_CHECKPOINT_NODE, trustRegistryOnNodes } from './support/nodes.js';
import { eventsFor, getCheckpoint, runWorkload, waitForPhase, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';
import { createBucket, adminS3 } from './support/s3.js';
import { generateCa } from '../cluster/pki.js';
import { startRegistry, type RegistryServer } from '../cluster/registry.js';
import { pinnedNode } from '../../src/actions/shared/action-job.js';

const NS = 'restore-e2e';
const OPERATOR_NS = 'checkpoint-operator-system';
const root = join(import.meta.dirname, '../..');
const { clusterDir, registryHost, s3, sparePodPorts, clusterHost } = clusterContext();
const REPOSITORY = `${registryHost}/checkpoints`;
const INDEX = 'application/vnd.oci.image.index.v1+json';
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

interface PodView {
  metadata: { annotations?: Record<string, string>; resourceVersion: string };
  spec: { nodeName: string; containers: { name: string; image: string }[] };
  status: {
    containerStatuses?: {
      name: string;
      imageID: string;
      containerID?: string;
      restartCount: number;
      state: { running?: unknown };
    }[];
  };
}

const apply = (yaml: string) => kubectl(['apply', '-f', '-'], yaml);
const getPod = async (name: string, namespace = NS): Promise<PodView> =>
  JSON.parse(await kubectl(['get', 'pod', name, '-n', namespace, '-o', 'json']));
const annotation = (p: PodView, key: string) => p.metadata.annotations?.[`checkpoint.example.com/${key}`];

function checkpointYaml(name: string, spec: string, namespace = NS): string {
  return `apiVersion: checkpoint.example.com/v1alpha1\nkind: Checkpoint\nmetadata:\n  name: ${name}\n  namespace: ${namespace}\nspec:\n${spec}`;
}
const LOCAL = `  storage:\n    backend: local\n    local:\n      path: /var/lib/checkpoint-operator/archives\n`;
const target = (pod: string, container = 'main') => `  target:\n    podName: ${pod}\n    containerName: ${container}\n`;

/** A policy keeping archives on nodes, with the restore settings given (YAML under spec.restore). */
const applyRestorePolicy = (name: string, restore: string) =>
  apply(`apiVersion: checkpoint.example.com/v1alpha1
kind: CheckpointPolicy
metadata:
  name: ${name}
spec:
  storage:
    backend: local
    local:
      path: /var/lib/checkpoint-operator/archives
  restore:
${restore}`);

/**
 * Waits for the restore-status annotation to settle on Succeeded or Failed; with `request`, for
 * the result of that restore-from value (not what an earlier request left on the pod).
 */
async function restoreResult(pod: string, namespace = NS, timeoutMs = 90_000, request?: string): Promise<PodView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await getPod(pod, namespace);
    const status = annotation(p, 'restore-status');
    const answered = request === undefined || annotation(p, 'restore-handled') === request;
    if (answered && (status === 'Succeeded' || status === 'Failed')) return p;
    if (Date.now() > deadline)
      throw new Error(
        `restore of ${namespace}/${pod} not finished after ${timeoutMs / 1000}s: ${JSON.stringify(p.metadata.annotations)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function registryGet(
  path: string,
  accept: string,
): Promise<{ status: number; body: Buffer; digest: string | null }> {
  const res = await fetch(`http://${registryHost}/v2/${path}`, { headers: { accept } });
  return {
    status: res.status,
    body: Buffer.from(await res.arrayBuffer()),
    digest: res.headers.get('docker-content-digest'),
  };
}

/** Follows an image reference by digest to its layer: what a node checks before it restores. */
async function inspectImage(image: string): Promise<{
  layerDigest: string;
  layerSize: number;
  indexAnnotations: Record<string, string>;
  manifestAnnotations: Record<string, string>;
}> {
  const [repo, digest] = image.slice(registryHost.length + 1).split('@') as [string, string];
  const index = await registryGet(`${repo}/manifests/${digest}`, `${INDEX}, ${MANIFEST}`);
  expect(index.status).toBe(200);
  const indexDoc = JSON.parse(index.body.toString());
  expect(indexDoc.mediaType).toBe(INDEX);
  const manifestDigest = indexDoc.manifests[0].digest as string;
  const manifest = await registryGet(`${repo}/manifests/${manifestDigest}`, MANIFEST);
  const manifestDoc = JSON.parse(manifest.body.toString());
  expect(manifestDoc.layers).toHaveLength(1);
  return {
    layerDigest: manifestDoc.layers[0].digest,
    layerSize: manifestDoc.layers[0].size,
    indexAnnotations: indexDoc.annotations,
    manifestAnnotations: manifestDoc.annotations,
  };
}

/** The HTTP status of a request to a TLS registry, verified against its CA. */
function fetchOverTls(url: string, ca: string, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .request(url, { method, ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .on('error', reject)
      .end();
  });
}

async function jobsFor(pod: string): Promise<string[]> {
  const out = await kubectl([
    'get',
    'jobs',
    '-n',
    OPERATOR_NS,
    '-l',
    `checkpoint.example.com/action=restore,checkpoint.example.com/owner-namespace=${NS},checkpoint.example.com/owner-name=${pod}`,
    '-o',
    'name',
  ]);
  return out.split('\n').filter(Boolean);
}

/** Takes a checkpoint and waits for it to succeed. */
async function checkpointOf(name: string, spec: string, namespace = NS): Promise<Checkpoint> {
  await apply(checkpointYaml(name, spec, namespace));
  const c = await waitForTerminal(namespace, name);
  expect(c.status?.phase, JSON.stringify(c.status)).toBe('Succeeded');
  return c;
}

/** Asserts a successful restore of `container` from Checkpoint `c`, and returns the new image. */
async function expectRestored(
  pod: string,
  c: Checkpoint,
  before: PodView,
  container = 'main',
  namespace = NS,
): Promise<string> {
  const after = await restoreResult(pod, namespace, 90_000, c.metadata.name);
  expect(annotation(after, 'restore-status'), annotation(after, 'restore-message')).toBe('Succeeded');
  expect(annotation(after, 'restored-from')).toBe(c.metadata.name);
  const image = after.spec.containers.find((x) => x.name === container)!.image;
  expect(image).toMatch(new RegExp(`^${REPOSITORY.replace(/[.]/g, '\\.')}@sha256:[a-f0-9]{64}$`));
  // containerd reports a restored container under the image it was first made from, so the
  // restored one is known as a new container that runs after the pod was pointed at the image.
  const status = after.status.containerStatuses!.find((s) => s.name === container)!;
  const replaced = before.status.containerStatuses!.find((s) => s.name === container)!.containerID;
  expect(status.containerID).toBeDefined();
  expect(status.containerID).not.toBe(replaced);
  expect(status.state.running).toBeDefined();
  expect(status.restartCount).toBe(
    before.status.containerStatuses!.find((s) => s.name === container)!.restartCount + 1,
  );
  // The registry holds a well-formed checkpoint image whose single layer is the archive itself.
  const inspected = await inspectImage(image);
  expect(inspected.layerDigest).toBe(`sha256:${c.status!.archive!.sha256}`);
  expect(inspected.layerSize).toBe(c.status!.archive!.sizeBytes);
  for (const annotations of [inspected.indexAnnotations, inspected.manifestAnnotations]) {
    expect(annotations['io.kubernetes.cri-o.annotations.checkpoint.name']).toBe(container);
    expect(annotations['org.criu.checkpoint.container.name']).toBe(container);
    expect(annotations['org.criu.checkpoint.rootfsImageName']).toBe('registry.example.com/sample-app:1.0');
  }
  const record = (await getCheckpoint(c.metadata.namespace!, c.metadata.name)).status!.restores!.find(
    (r) => r.podName === pod && r.image === image,
  );
  expect(record).toMatchObject({
    result: 'Succeeded',
    namespace,
    containerName: container,
    request: c.metadata.name,
    replacedContainerID: replaced,
  });
  await expect
    .poll(async () => (await eventsFor(namespace, pod)).map((e) => e.reason))
    .toEqual(expect.arrayContaining(['RestoreStarted', 'Restored']));
  // The Checkpoint tells the same story, from the dispatcher and from the Job.
  await expect
    .poll(async () =>
      (await eventsFor(c.metadata.namespace!, c.metadata.name))
        .filter((e) => e.message.includes(`pod ${namespace}/${pod}`))
        .map((e) => e.reason),
    )
    .toEqual(expect.arrayContaining(['RestoreStarted', 'ImagePushed', 'Restored']));
  return image;
}

async function expectRefused(pod: string, reason: string, before: PodView): Promise<string> {
  const after = await restoreResult(pod);
  expect(annotation(after, 'restore-status')).toBe('Failed');
  const message = annotation(after, 'restore-message')!;
  expect(message.startsWith(`${reason}: `), message).toBe(true);
  // Untouched: the same images, no restart.
  expect(after.spec.containers.map((x) => x.image)).toEqual(before.spec.containers.map((x) => x.image));
  expect(after.status.containerStatuses!.map((s) => s.restartCount)).toEqual(
    before.status.containerStatuses!.map((s) => s.restartCount),
  );
  expect(annotation(after, 'restored-from')).toBe(annotation(before, 'restored-from'));
  await expect
    .poll(async () => (await eventsFor(NS, pod)).filter((e) => e.type === 'Warning').map((e) => e.reason))
    .toContain(reason);
  return message;
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

let restartsBefore = 0;

beforeAll(async () => {
  await kubectl(['create', 'namespace', NS]).catch(() => undefined);
  restartsBefore = await operatorRestarts();
});

afterAll(async () => {
  await kubectl([
    'delete',
    'checkpoints.checkpoint.example.com',
    'my-app-checkpoint',
    '-n',
    'default',
    '--ignore-not-found',
    '--wait=true',
  ]);
  await kubectl(['delete', 'pod', 'my-app-pod-0', '-n', 'default', '--ignore-not-found', '--wait=true']);
});

describe('restore by annotation', () => {
  it('restores the seed pod with the seed annotate command (s3 backend)', async () => {
    const admin = adminS3(s3);
    await createBucket(admin, 'checkpoints');
    admin.destroy();
    await runWorkload('default', 'my-app-pod-0');
    await kubectl(['apply', '-f', join(root, 'manifests/samples/example-checkpoint-policy.yaml')]);
    const seed = (await readFile(join(root, 'manifests/samples/example-checkpoint.yaml'), 'utf8')).replace(
      'endpoint: "s3.example.com"',
      `endpoint: "${s3.endpoint}"\n      forcePathStyle: true`,
    );
    await kubectl([
      'delete',
      'checkpoints.checkpoint.example.com',
      'my-app-checkpoint',
      '-n',
      'default',
      '--ignore-not-found',
      '--wait=true',
    ]);
    await apply(seed);
    const c = await waitForTerminal('default', 'my-app-checkpoint');
    expect(c.status?.phase, JSON.stringify(c.status)).toBe('Succeeded');
    const before = await getPod('my-app-pod-0', 'default');

    await kubectl(['annotate', 'pod', 'my-app-pod-0', 'checkpoint.example.com/restore-from=my-app-checkpoint']);
    await expectRestored('my-app-pod-0', c, before, 'main', 'default');
  });

  it('restores from a local archive on another node than the pod', async () => {
    await runWorkload(NS, 'local-src', { nodeName: OTHER_CHECKPOINT_NODE });
    await runWorkload(NS, 'local-dst', { nodeName: CHECKPOINT_NODE });
    const c = await checkpointOf('local-ckpt', `${target('local-src')}${LOCAL}`);
    expect(c.status!.archive!.nodeName).toBe(OTHER_CHECKPOINT_NODE);
    const before = await getPod('local-dst');
    await kubectl(['annotate', 'pod', 'local-dst', '-n', NS, 'checkpoint.example.com/restore-from=local-ckpt']);
    await expectRestored('local-dst', c, before);
    const job = JSON.parse(await kubectl(['get', (await jobsFor('local-dst'))[0]!, '-n', OPERATOR_NS, '-o', 'json']));
    expect(pinnedNode(job.spec.template.spec)).toBe(OTHER_CHECKPOINT_NODE);
  });

  it('restores from a claim (pvc backend), and once per annotation value', async () => {
    await runWorkload(NS, 'pvc-app');
    await kubectl(['apply', '-f', join(root, 'manifests/samples/example-checkpoint-policy.yaml')]);
    const c = await checkpointOf('pvc-ckpt', `${target('pvc-app')}  policyRef: default-policy\n`);
    expect(c.status!.archive!.uri).toMatch(/^pvc:\/\//);
    const before = await getPod('pvc-app');
    await kubectl(['annotate', 'pod', 'pvc-app', '-n', NS, 'checkpoint.example.com/restore-from=pvc-ckpt']);
    const image = await expectRestored('pvc-app', c, before);
    const jobs = await jobsFor('pvc-app');
    expect(jobs).toHaveLength(1);

    // The same value again: nothing happens.
    const settled = await getPod('pvc-app');
    await kubectl([
      'annotate',
      '--overwrite',
      'pod',
      'pvc-app',
      '-n',
      NS,
      'checkpoint.example.com/restore-from=pvc-ckpt',
      'unrelated=touch',
    ]);
    await new Promise((r) => setTimeout(r, 3000));
    const again = await getPod('pvc-app');
    expect(await jobsFor('pvc-app')).toEqual(jobs);
    expect(again.status.containerStatuses![0]!.restartCount).toBe(settled.status.containerStatuses![0]!.restartCount);
    expect(again.spec.containers[0]!.image).toBe(image);

    // Another Checkpoint: restores again.
    const second = await checkpointOf('pvc-ckpt-2', `${target('pvc-app')}  policyRef: default-policy\n`);
    await kubectl([
      'annotate',
      '--overwrite',
      'pod',
      'pvc-app',
      '-n',
      NS,
      'checkpoint.example.com/restore-from=pvc-ckpt-2',
    ]);
    const image2 = await expectRestored('pvc-app', second, again);
    expect(image2).not.toBe(image);
    expect(await jobsFor('pvc-app')).toHaveLength(2);
  });

  describe('refusals leave the pod untouched', () => {
    beforeAll(async () => {
      await runWorkload(NS, 'victim', { containers: ['main', 'sidecar'] });
    });

    const refuse = async (value: string, reason: string) => {
      // One write clears the last request and its result, so the next value starts clean.
      await kubectl([
        'annotate',
        'pod',
        'victim',
        '-n',
        NS,
        'checkpoint.example.com/restore-from-',
        'checkpoint.example.com/restore-status-',
        'checkpoint.example.com/restore-handled-',
        'checkpoint.example.com/restore-message-',
      ]).catch(() => undefined);
      const before = await getPod('victim');
      await kubectl([
        'annotate',
        '--overwrite',
        'pod',
        'victim',
        '-n',
        NS,
        `checkpoint.example.com/restore-from=${value}`,
      ]);
      return expectRefused('victim', reason, before);
    };

    it('unknown Checkpoint', async () => {
      expect(await refuse('no-such-checkpoint', 'CheckpointNotFound')).toContain('no-such-checkpoint');
    });

    it('a Failed Checkpoint', async () => {
      await apply(checkpointYaml('failed-ckpt', `${target('not-a-pod')}${LOCAL}`));
      expect((await waitForTerminal(NS, 'failed-ckpt')).status!.phase).toBe('Failed');
      expect(await refuse('failed-ckpt', 'CheckpointNotReady')).toContain('Failed');
    });

    it('a Checkpoint still running', async () => {
      await runWorkload(NS, 'slow');
      // Its storage answers nothing: the Checkpoint stays Running while the restore is asked for.
      const stalled = await stalledStorage();
      onTestFinished(() => stalled.close());
      await apply(checkpointYaml('running-ckpt', `${target('slow')}${stalled.yaml}`));
      await waitForPhase(NS, 'running-ckpt', 'Running');
      expect(await refuse('running-ckpt', 'CheckpointNotReady')).toContain('Running');
    });

    it('a container the pod does not have', async () => {
      await runWorkload(NS, 'other-shape', { containers: ['web'] });
      await checkpointOf('web-ckpt', `${target('other-shape', 'web')}${LOCAL}`);
      expect(await refuse('web-ckpt', 'ContainerNotInPod')).toContain('web');
    });

    it('an archive whose bytes were corrupted in storage: nothing reaches the registry', async () => {
      await runWorkload(NS, 'corrupt-src');
      const c = await checkpointOf('corrupt-ckpt', `${target('corrupt-src')}${LOCAL}`);
      const archive = c.status!.archive!;
      const file = join(clusterDir, 'nodes', archive.nodeName!, archive.uri.replace(/^local:\/\/[^/]+/, ''));
      const fh = await open(file, 'r+');
      await fh.write(Buffer.from('corrupted'), 0, 9, Math.floor(archive.sizeBytes / 2));
      await fh.close();
      const message = await refuse('corrupt-ckpt', 'ChecksumMismatch');
      expect(message).toContain(archive.sha256);
      // Neither the recorded digest nor any image was published for it.
      const layer = await registryGet(`checkpoints/blobs/sha256:${archive.sha256}`, '*/*');
      expect(layer.status).toBe(404);
      const record = (await getCheckpoint(NS, 'corrupt-ckpt')).status!.restores!.at(-1)!;
      expect(record).toMatchObject({ result: 'Failed', reason: 'ChecksumMismatch', podName: 'victim' });
      expect(record.image).toBeUndefined();
      await expect
        .poll(async () =>
          (await eventsFor(NS, 'corrupt-ckpt')).filter((e) => e.type === 'Warning').map((e) => e.reason),
        )
        .toContain('ChecksumMismatch');
    });

    it('a node whose containerd does not say it restores (2.3 with restore off, unlabelled): refused before any Job', async () => {
      await runWorkload(NS, 'on-default-node', { nodeName: DEFAULT_NODE });
      await checkpointOf('for-default-node', `${target('victim')}${LOCAL}`);
      const before = await getPod('on-default-node');
      await kubectl([
        'annotate',
        'pod',
        'on-default-node',
        '-n',
        NS,
        'checkpoint.example.com/restore-from=for-default-node',
      ]);
      const message = await expectRefused('on-default-node', 'RuntimeCannotRestore', before);
      expect(message).toContain(`node ${DEFAULT_NODE} runs containerd 2.3.7`);
      expect(message).toContain('enable_experimental_restore_via_create');
      expect(message).toContain('label the node checkpoint.example.com/restore=enabled');
      expect(await jobsFor('on-default-node')).toEqual([]);

      // Labelled restore=disabled by its administrator: refused for that reason, whatever the runtime.
      await kubectl(['label', 'node', DEFAULT_NODE, 'checkpoint.example.com/restore=disabled']);
      onTestFinished(async () => {
        await kubectl(['label', 'node', DEFAULT_NODE, 'checkpoint.example.com/restore-']);
      });
      await new Promise((r) => setTimeout(r, 1000));
      await kubectl([
        'annotate',
        'pod',
        'on-default-node',
        '-n',
        NS,
        'checkpoint.example.com/restore-from-',
        'checkpoint.example.com/restore-status-',
        'checkpoint.example.com/restore-handled-',
        'checkpoint.example.com/restore-message-',
      ]);
      const again = await getPod('on-default-node');
      await kubectl([
        'annotate',
        'pod',
        'on-default-node',
        '-n',
        NS,
        'checkpoint.example.com/restore-from=for-default-node',
      ]);
      expect(await expectRefused('on-default-node', 'RestoreDisabledOnNode', again)).toContain(
        `node ${DEFAULT_NODE} is labelled checkpoint.example.com/restore=disabled`,
      );
      expect(await jobsFor('on-default-node')).toEqual([]);
    });

    it('a node that cannot run the checkpoint image after all: the original image goes back, and the restore fails saying so', async () => {
      // The administrator says node-b restores, but its containerd has restore through CreateContainer off.
      await kubectl(['label', 'node', DEFAULT_NODE, 'checkpoint.example.com/restore=enabled', '--overwrite']);
      onTestFinished(async () => {
        await kubectl(['label', 'node', DEFAULT_NODE, 'checkpoint.example.com/restore-']);
      });
      await new Promise((r) => setTimeout(r, 1000));
      await runWorkload(NS, 'rolled-back', { nodeName: DEFAULT_NODE });
      await checkpointOf('for-rollback', `${target('victim')}${LOCAL}`);
      const before = await getPod('rolled-back');
      const original = before.spec.containers[0]!.image;
      const askedAt = Date.now();
      await kubectl(['annotate', 'pod', 'rolled-back', '-n', NS, 'checkpoint.example.com/restore-from=for-rollback']);
      const after = await restoreResult('rolled-back', NS, 180_000);
      const tookMs = Date.now() - askedAt;
      expect(annotation(after, 'restore-status')).toBe('Failed');
      const message = annotation(after, 'restore-message')!;
      expect(message).toMatch(/^NodeRejectedImage: /);
      expect(message).toContain('CreateContainerError');
      expect(message).toContain(`rolled back: container main runs its original image ${original} again`);
      // Running its original image again, in a new container.
      expect(after.spec.containers[0]!.image).toBe(original);
      const status = after.status.containerStatuses![0]!;
      expect(status.state.running).toBeDefined();
      expect(status.containerID).not.toBe(before.status.containerStatuses![0]!.containerID);
      const record = (await getCheckpoint(NS, 'for-rollback')).status!.restores!.at(-1)!;
      expect(record).toMatchObject({
        result: 'Failed',
        reason: 'NodeRejectedImage',
        originalImage: original,
        rollbackReason: 'NodeRejectedImage',
      });
      await expect
        .poll(async () => (await eventsFor(NS, 'rolled-back')).filter((e) => e.type === 'Warning').map((e) => e.reason))
        .toEqual(expect.arrayContaining(['RollingBack', 'NodeRejectedImage']));
      console.log(
        `restore on the node without restore: annotation → rolled back and Failed in ${(tookMs / 1000).toFixed(1)} s`,
      );
    }, 240_000);

    it('a registry that is not listening', async () => {
      await applyRestorePolicy(
        'restore-unreachable',
        `    imageRepository: ${clusterHost.ip}:${sparePodPorts[0]}/checkpoints\n    insecureRegistry: true\n`,
      );
      await checkpointOf('unreachable-ckpt', `${target('victim')}  policyRef: restore-unreachable\n`);
      expect(await refuse('unreachable-ckpt', 'RegistryUnreachable')).toContain(
        `${clusterHost.ip}:${sparePodPorts[0]}`,
      );
    });

    describe('with a registry whose certificate a private CA signs', () => {
      let tls: RegistryServer;
      let untrust: (() => Promise<void>) | undefined;
      beforeAll(async () => {
        tls = await startRegistry({
          dir: join(clusterDir, 'registry-tls'),
          host: clusterServerHost(),
          tls: true,
          port: sparePodPorts[2],
        });
        const unrelated = await generateCa(join(clusterDir, 'registry-tls'), 'unrelated-ca', 'unrelated-ca');
        await kubectl([
          'create',
          'secret',
          'generic',
          'registry-ca',
          '-n',
          OPERATOR_NS,
          '--from-literal',
          `ca.crt=${tls.ca!}`,
        ]);
        await kubectl([
          'create',
          'secret',
          'generic',
          'unrelated-ca',
          '-n',
          OPERATOR_NS,
          '--from-literal',
          `bundle.pem=${await readFile(unrelated.caCert, 'utf8')}`,
        ]);
        // The nodes' runtimes trust the registry's CA (containerd's certs.d).
        untrust = await trustRegistryOnNodes(tls.host, { ca: tls.ca! });
      });
      afterAll(async () => {
        await tls?.stop();
        await untrust?.();
        await kubectl(['delete', 'secret', 'registry-ca', 'unrelated-ca', '-n', OPERATOR_NS, '--ignore-not-found']);
      });
      const policyWithCa = (name: string, ca: string) =>
        applyRestorePolicy(
          name,
          `    imageRepository: ${tls.host}/checkpoints\n    caBundleSecretRef: { ${ca}, namespace: ${OPERATOR_NS} }\n`,
        );

      it('a CA bundle Secret that does not exist is refused before any Job', async () => {
        await policyWithCa('restore-ca-missing', 'name: no-such-ca');
        await checkpointOf('ca-missing-ckpt', `${target('victim')}  policyRef: restore-ca-missing\n`);
        expect(await refuse('ca-missing-ckpt', 'CABundleNotFound')).toContain(`${OPERATOR_NS}/no-such-ca`);
        const record = (await getCheckpoint(NS, 'ca-missing-ckpt')).status!.restores!.at(-1)!;
        expect(record).toMatchObject({ result: 'Failed', reason: 'CABundleNotFound' });
        // The attempt's Job was never created.
        expect(
          (
            await kubectl(['get', 'job', record.jobName!, '-n', OPERATOR_NS, '--ignore-not-found', '-o', 'name'])
          ).trim(),
        ).toBe('');
      });

      it('a CA that did not sign the registry ends RegistryTLSError, and nothing is pushed', async () => {
        await policyWithCa('restore-ca-unrelated', 'name: unrelated-ca, key: bundle.pem');
        const c = await checkpointOf('ca-unrelated-ckpt', `${target('victim')}  policyRef: restore-ca-unrelated\n`);
        expect(await refuse('ca-unrelated-ckpt', 'RegistryTLSError')).toContain(tls.host);
        const layer = await fetchOverTls(
          `${tls.url}/v2/checkpoints/blobs/sha256:${c.status!.archive!.sha256}`,
          tls.ca!,
        );
        expect(layer).toBe(404);
      });

      it('with the right CA, pushes over HTTPS and the pod is restored from it', async () => {
        await policyWithCa('restore-ca-right', 'name: registry-ca');
        await runWorkload(NS, 'tls-app');
        const c = await checkpointOf('ca-right-ckpt', `${target('tls-app')}  policyRef: restore-ca-right\n`);
        const before = await getPod('tls-app');
        await kubectl(['annotate', 'pod', 'tls-app', '-n', NS, 'checkpoint.example.com/restore-from=ca-right-ckpt']);
        const after = await restoreResult('tls-app', NS, 90_000, 'ca-right-ckpt');
        expect(annotation(after, 'restore-status'), annotation(after, 'restore-message')).toBe('Succeeded');
        const image = after.spec.containers[0]!.image;
        expect(image.startsWith(`${tls.host}/checkpoints@sha256:`)).toBe(true);
        expect(after.status.containerStatuses![0]!.containerID).not.toBe(
          before.status.containerStatuses![0]!.containerID,
        );
        expect(after.status.containerStatuses![0]!.restartCount).toBe(
          before.status.containerStatuses![0]!.restartCount + 1,
        );
        // The layer the registry holds, read over verified TLS, is the archive.
        const layer = `${tls.url}/v2/checkpoints/blobs/sha256:${c.status!.archive!.sha256}`;
        expect(await fetchOverTls(layer, tls.ca!, 'HEAD')).toBe(200);

        // Once no pod runs it, deleting the Checkpoint deletes the image, over the same verified TLS.
        await kubectl(['delete', 'pod', 'tls-app', '-n', NS, '--wait=true']);
        await kubectl([
          'delete',
          'checkpoints.checkpoint.example.com',
          'ca-right-ckpt',
          '-n',
          NS,
          '--wait=true',
          '--timeout=90s',
        ]);
        expect(await fetchOverTls(`${tls.url}/v2/checkpoints/manifests/${image.split('@')[1]}`, tls.ca!, 'HEAD')).toBe(
          404,
        );
        expect(await fetchOverTls(layer, tls.ca!, 'HEAD')).toBe(404);
        await expect
          .poll(async () => (await eventsFor(NS, 'ca-right-ckpt')).map((e) => e.reason))
          .toContain('CheckpointImagesDeleted');
      });
    });

    describe('with a registry that wants credentials', () => {
      let guarded: RegistryServer;
      let untrust: (() => Promise<void>) | undefined;
      beforeAll(async () => {
        guarded = await startRegistry({
          dir: join(clusterDir, 'registry-basic'),
          host: clusterServerHost(),
          auth: 'basic',
          port: sparePodPorts[1],
        });
        untrust = await trustRegistryOnNodes(guarded.host, { plainHttp: true });
      });
      afterAll(async () => {
        await untrust?.();
        await guarded?.stop();
        await kubectl(['delete', 'secret', 'push-wrong', 'push-right', '-n', OPERATOR_NS, '--ignore-not-found']);
      });

      const policyFor = (name: string, secret: string, pullSecret?: string) =>
        applyRestorePolicy(
          name,
          `    imageRepository: ${guarded.host}/checkpoints\n    insecureRegistry: true\n    pushSecretRef: { name: ${secret}, namespace: ${OPERATOR_NS} }\n${pullSecret ? `    pullSecretName: ${pullSecret}\n` : ''}`,
        );
      const pushSecret = (name: string, password: string) =>
        kubectl([
          'create',
          'secret',
          'docker-registry',
          name,
          '-n',
          OPERATOR_NS,
          `--docker-server=${guarded.host}`,
          `--docker-username=${guarded.username}`,
          `--docker-password=${password}`,
        ]);

      it('wrong credentials are refused with RegistryAuthFailed, without the password in the message', async () => {
        await pushSecret('push-wrong', 'not-the-password');
        await policyFor('restore-wrong-creds', 'push-wrong');
        await checkpointOf('wrong-creds-ckpt', `${target('victim')}  policyRef: restore-wrong-creds\n`);
        const message = await refuse('wrong-creds-ckpt', 'RegistryAuthFailed');
        expect(message).not.toContain('not-the-password');
      });

      it("the right credentials push, and the node pulls with the pod's pull Secret", async () => {
        await pushSecret('push-right', guarded.password!);
        await kubectl([
          'create',
          'secret',
          'docker-registry',
          'pull-right',
          '-n',
          NS,
          `--docker-server=${guarded.host}`,
          `--docker-username=${guarded.username}`,
          `--docker-password=${guarded.password!}`,
        ]);
        await policyFor('restore-right-creds', 'push-right', 'pull-right');
        await runWorkload(NS, 'guarded-app', { imagePullSecrets: ['pull-right'] });
        const c = await checkpointOf('right-creds-ckpt', `${target('guarded-app')}  policyRef: restore-right-creds\n`);
        // The policy's pull Secret must be one the pod can use: victim lists none.
        expect(await refuse('right-creds-ckpt', 'PullSecretNotInPod')).toContain('pull-right');

        const before = await getPod('guarded-app');
        await kubectl([
          'annotate',
          'pod',
          'guarded-app',
          '-n',
          NS,
          'checkpoint.example.com/restore-from=right-creds-ckpt',
        ]);
        const after = await restoreResult('guarded-app');
        expect(annotation(after, 'restore-status'), annotation(after, 'restore-message')).toBe('Succeeded');
        expect(after.spec.containers[0]!.image.startsWith(`${guarded.host}/checkpoints@sha256:`)).toBe(true);
        expect(after.status.containerStatuses![0]!.restartCount).toBe(
          before.status.containerStatuses![0]!.restartCount + 1,
        );
        // The per-Job Secrets that carried the credentials are gone once the restores have results.
        await expect
          .poll(async () =>
            (
              await kubectl([
                'get',
                'secrets',
                '-n',
                OPERATOR_NS,
                '-l',
                'checkpoint.example.com/action=restore',
                '-o',
                'name',
              ])
            ).trim(),
          )
          .toBe('');
        expect(c.status!.phase).toBe('Succeeded');
      });
    });
  });

  it('deleting a Checkpoint deletes the checkpoint images its restores pushed, but not one a pod still runs', async () => {
    // pvc-app was restored from pvc-ckpt, then from pvc-ckpt-2: it runs the second image only.
    const imageOf = async (name: string) =>
      (await getCheckpoint(NS, name)).status!.restores!.find((r) => r.result === 'Succeeded')!.image!;
    const [first, second] = [await imageOf('pvc-ckpt'), await imageOf('pvc-ckpt-2')];
    const running = (await getPod('pvc-app')).spec.containers[0]!.image;
    expect(running).toBe(second);
    const manifestStatus = async (image: string) =>
      (await registryGet(`checkpoints/manifests/${image.split('@')[1]}`, `${INDEX}, ${MANIFEST}`)).status;
    expect([await manifestStatus(first), await manifestStatus(second)]).toEqual([200, 200]);
    const firstSha = (await getCheckpoint(NS, 'pvc-ckpt')).status!.archive!.sha256;
    expect((await registryGet(`checkpoints/blobs/sha256:${firstSha}`, '*/*')).status).toBe(200);

    await kubectl([
      'delete',
      'checkpoints.checkpoint.example.com',
      'pvc-ckpt',
      'pvc-ckpt-2',
      '-n',
      NS,
      '--wait=true',
      '--timeout=90s',
    ]);
    // The image nobody runs is gone, its archive layer with it; the running one stays, and the Checkpoint says why.
    expect(await manifestStatus(first)).toBe(404);
    expect((await registryGet(`checkpoints/blobs/sha256:${firstSha}`, '*/*')).status).toBe(404);
    expect(await manifestStatus(second)).toBe(200);
    await expect
      .poll(async () => (await eventsFor(NS, 'pvc-ckpt')).map((e) => e.reason))
      .toEqual(expect.arrayContaining(['ArchiveDeleted', 'CheckpointImagesDeleted']));
    await expect
      .poll(async () => (await eventsFor(NS, 'pvc-ckpt-2')).find((e) => e.reason === 'CheckpointImageKept')?.message)
      .toMatch(
        new RegExp(
          `^checkpoint image ${second.replace(/[.]/g, '\\.')} stays in the registry: pod ${NS}/pvc-app runs it`,
        ),
      );
    // The restored container is unaffected.
    expect((await getPod('pvc-app')).status.containerStatuses![0]!.state.running).toBeDefined();
  });

  it('the dispatcher never restarted', async () => {
    expect(await operatorRestarts()).toBe(restartsBefore);
  });
});
