import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCheckpointImage, MEDIA_TYPE, sha256Digest } from '../../src/oci/checkpoint-image.js';
import { RegistryClient } from '../../src/oci/registry-client.js';
import { pushCheckpointImage } from '../../src/oci/push-checkpoint-image.js';
import { type RegistryServer, startRegistry } from '../cluster/registry.js';
import { counterPort, runWorkload, sha256File } from './support/checkpoints.js';
import { clusterContext, clusterServerHost } from './support/cluster-context.js';
import { kubectl } from './support/kube.js';
import { CHECKPOINT_NODE, DEFAULT_NODE, trustRegistryOnNodes } from './support/nodes.js';
import { pipeline } from 'node:stream/promises';

const NS = 'image-pull-e2e';
const { registryHost, clusterDir, sparePodPorts } = clusterContext();
const REPO = `${registryHost}/checkpoints/pull-e2e`;

/**
 * What containerd does with the checkpoint images this project builds (src/oci), checked on the
 * real nodes without the operator in between: the image of a real kubelet archive restores the
 * container on the node whose containerd restores through CreateContainer, and each way an image
 * can be wrong ends in the kubelet's own reason.
 */
interface ContainerStatus {
  image: string;
  imageID: string;
  restartCount: number;
  state: { running?: object; waiting?: { reason: string; message?: string } };
}

async function containerStatus(pod: string): Promise<ContainerStatus | undefined> {
  const p = JSON.parse(await kubectl(['get', 'pod', pod, '-n', NS, '-o', 'json']));
  return p.status?.containerStatuses?.[0];
}

async function setImage(pod: string, image: string): Promise<void> {
  await kubectl([
    'patch',
    'pod',
    pod,
    '-n',
    NS,
    '--type=json',
    '-p',
    JSON.stringify([{ op: 'replace', path: '/spec/containers/0/image', value: image }]),
  ]);
}

async function waitFor(pod: string, test: (s: ContainerStatus) => boolean, timeout = 90_000): Promise<ContainerStatus> {
  let last: ContainerStatus | undefined;
  await expect
    .poll(
      async () => {
        last = await containerStatus(pod);
        return last ? test(last) : false;
      },
      { timeout, interval: 250 },
    )
    .toBe(true);
  return last!;
}

/** The counter's answer: its identity (drawn at start) and its count, both only in its memory. */
async function counterOf(pod: string): Promise<{ id: string; count: number }> {
  return JSON.parse(
    await kubectl(['exec', pod, '-n', NS, '-c', 'main', '--', 'wget', '-qO-', `http://127.0.0.1:${counterPort(0)}/`]),
  );
}

/** A kubelet checkpoint of the pod's container, through the API server's node proxy: the archive file on the node. */
async function kubeletArchive(pod: string): Promise<string> {
  const view = JSON.parse(await kubectl(['get', 'pod', pod, '-n', NS, '-o', 'json']));
  const node = view.spec.nodeName as string;
  const answer = JSON.parse(
    await kubectl(['create', '--raw', `/api/v1/nodes/${node}/proxy/checkpoint/${NS}/${pod}/main`, '-f', '-'], '{}'),
  );
  return join(clusterDir, 'nodes', node, 'var', (answer.items[0] as string).replace(/^\/var\//, ''));
}

/** An image with the checkpoint annotations whose single layer is `layer` (any bytes). */
async function pushImage(client: RegistryClient, layer: Buffer, containerName: string, tag: string): Promise<string> {
  const sha256 = sha256Digest(layer).slice('sha256:'.length);
  const image = buildCheckpointImage({
    containerName,
    metadata: { containerName },
    archive: { sizeBytes: layer.length, sha256, fileName: 'layer.tar', createdAt: '2026-11-25T03:00:00Z' },
  });
  await client.uploadBlob(Readable.from([layer]), { digest: `sha256:${sha256}`, size: layer.length });
  await client.uploadBlob(Readable.from([image.config.bytes]), {
    digest: image.config.digest,
    size: image.config.bytes.length,
  });
  await client.putManifest(image.manifest.digest, image.manifest.bytes, MEDIA_TYPE.manifest);
  return client.putManifest(tag, image.index.bytes, MEDIA_TYPE.index);
}

/** Pushes a kubelet archive as the restore Job does (streamed, verified, annotated from the archive). */
async function pushArchive(client: RegistryClient, file: string, tag: string): Promise<string> {
  const { size } = await stat(file);
  return (
    await pushCheckpointImage({
      client,
      archive: createReadStream(file),
      expected: { sizeBytes: size, sha256: await sha256File(file) },
      containerName: 'main',
      fileName: basename(file),
      createdAt: new Date().toISOString(),
      tag,
    })
  ).digest;
}

async function plainTar(): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'hello.txt' }, 'not a checkpoint');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('containerd and the checkpoint images this project builds', () => {
  let client: RegistryClient;
  let archiveFile: string;
  let checkpointed: { id: string; count: number };
  let digest: string;
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    client = new RegistryClient({ repository: REPO, insecure: true });
    await runWorkload(NS, 'source');
    await new Promise((r) => setTimeout(r, 1500));
    checkpointed = await counterOf('source');
    archiveFile = await kubeletArchive('source');
    digest = await pushArchive(client, archiveFile, 'source');
  });
  afterAll(async () => {
    client?.close();
    if (archiveFile) await rm(archiveFile, { force: true });
  });

  it('restores the container from the image on the node with restore on: the same process goes on counting', async () => {
    const before = await containerStatus('source');
    const image = `${REPO}@${digest}`;
    await setImage('source', image);
    const after = await waitFor('source', (s) => Boolean(s.state.running) && s.restartCount > before!.restartCount);
    expect(after.restartCount).toBe(before!.restartCount + 1);
    // containerd reports a restored container under the image the checkpointed one ran.
    expect(after.image).toBe('registry.example.com/sample-app:1.0');
    await kubectl(['wait', '--for=condition=Ready', 'pod/source', '-n', NS, '--timeout=60s']);
    const restored = await counterOf('source');
    expect(restored.id).toBe(checkpointed.id);
    expect(restored.count).toBeGreaterThanOrEqual(checkpointed.count);
  });

  it('CreateContainerError on the node whose containerd has restore off, naming the setting', async () => {
    await runWorkload(NS, 'restore-off', { nodeName: DEFAULT_NODE });
    await setImage('restore-off', `${REPO}@${digest}`);
    const s = await waitFor('restore-off', (x) => x.state.waiting?.reason === 'CreateContainerError');
    expect(s.state.waiting!.message).toContain('restore via CreateContainer is disabled');
  });

  it('ErrImagePull (then ImagePullBackOff) for a digest the registry does not have', async () => {
    await runWorkload(NS, 'missing');
    await setImage('missing', `${REPO}@sha256:${'d'.repeat(64)}`);
    const s = await waitFor('missing', (x) =>
      ['ErrImagePull', 'ImagePullBackOff'].includes(x.state.waiting?.reason ?? ''),
    );
    expect(s.state.waiting!.message).toMatch(/not found/);
  });

  it('ErrImagePull for a registry nobody listens on', async () => {
    await runWorkload(NS, 'no-registry');
    await setImage(
      'no-registry',
      `${clusterServerHost().ip}:${sparePodPorts[0]}/checkpoints/x@sha256:${'d'.repeat(64)}`,
    );
    const s = await waitFor('no-registry', (x) =>
      ['ErrImagePull', 'ImagePullBackOff'].includes(x.state.waiting?.reason ?? ''),
    );
    expect(s.state.waiting!.message).toMatch(/connection refused|connect/);
  });

  it('CreateContainerError for an image whose layer is not a checkpoint archive', async () => {
    const plain = await pushImage(client, await plainTar(), 'main', 'plain-tar');
    await runWorkload(NS, 'plain', { nodeName: CHECKPOINT_NODE });
    await setImage('plain', `${REPO}@${plain}`);
    const s = await waitFor('plain', (x) => x.state.waiting?.reason === 'CreateContainerError');
    expect(s.state.waiting!.message!.length).toBeGreaterThan(10);
    expect(s.state.running).toBeUndefined();
  });

  describe('from a registry that wants credentials', () => {
    let guarded: RegistryServer;
    let guardedDigest: string;
    let guardedCounter: { id: string; count: number };
    let untrust: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      guarded = await startRegistry({
        dir: await mkdtemp(join(tmpdir(), 'pull-basic-')),
        host: clusterServerHost(),
        auth: 'basic',
        port: sparePodPorts[1],
      });
      untrust = await trustRegistryOnNodes(guarded.host, { plainHttp: true });
      await runWorkload(NS, 'guarded-source');
      await new Promise((r) => setTimeout(r, 1500));
      guardedCounter = await counterOf('guarded-source');
      const c = new RegistryClient({
        repository: `${guarded.host}/checkpoints/app`,
        insecure: true,
        credentials: { username: guarded.username!, password: guarded.password! },
      });
      const file = await kubeletArchive('guarded-source');
      try {
        guardedDigest = await pushArchive(c, file, 'v1');
      } finally {
        c.close();
        await rm(file, { force: true });
      }
      const config = JSON.stringify({
        auths: { [guarded.host]: { username: guarded.username, password: guarded.password } },
      });
      const secretFile = join(await mkdtemp(join(tmpdir(), 'pull-secret-')), 'config.json');
      await writeFile(secretFile, config, { mode: 0o600 });
      await kubectl([
        'create',
        'secret',
        'generic',
        'registry-pull',
        '-n',
        NS,
        '--type=kubernetes.io/dockerconfigjson',
        `--from-file=.dockerconfigjson=${secretFile}`,
      ]);
    });
    afterAll(async () => {
      await untrust?.();
      await guarded?.stop();
    });

    it("pulls with the pod's imagePullSecrets (a missing one skipped, as kubelets do)", async () => {
      await runWorkload(NS, 'with-secret', { imagePullSecrets: ['absent-secret', 'registry-pull'] });
      const before = await containerStatus('with-secret');
      await setImage('with-secret', `${guarded.host}/checkpoints/app@${guardedDigest}`);
      await waitFor('with-secret', (x) => Boolean(x.state.running) && x.restartCount > before!.restartCount);
      // The process the image holds runs on: only a pull with the Secret could have brought it.
      await kubectl(['wait', '--for=condition=Ready', 'pod/with-secret', '-n', NS, '--timeout=60s']);
      expect((await counterOf('with-secret')).id).toBe(guardedCounter.id);
    });

    it('ErrImagePull without them', async () => {
      await runWorkload(NS, 'without-secret');
      await setImage('without-secret', `${guarded.host}/checkpoints/app@${guardedDigest}`);
      const s = await waitFor('without-secret', (x) =>
        ['ErrImagePull', 'ImagePullBackOff'].includes(x.state.waiting?.reason ?? ''),
      );
      expect(s.state.waiting!.message).toMatch(/401|unauthorized|authorization/i);
    });
  });

  it("the archive read from the node is the kubelet's (CRIU images, config.dump, spec.dump)", async () => {
    const names: string[] = [];
    const { extract } = await import('tar-stream');
    const x = extract();
    x.on('entry', (h, stream, next) => {
      names.push(h.name);
      stream.resume();
      stream.on('end', next);
    });
    await pipeline(
      Readable.from([
        await readFile(
          join(clusterDir, 'registry/data/docker/registry/v2/blobs/sha256', digestPath(await layerOf(digest))),
        ),
      ]),
      x,
    );
    expect(names).toEqual(expect.arrayContaining(['config.dump', 'spec.dump']));
    expect(names.some((n) => /^checkpoint\/(pages|pagemap)-\d+\.img$/.test(n))).toBe(true);
  });
});

/** The single layer's digest of a pushed checkpoint image (index → manifest → layer). */
async function layerOf(indexDigest: string): Promise<string> {
  const c = new RegistryClient({ repository: REPO, insecure: true });
  try {
    const index = JSON.parse((await c.getManifest(indexDigest, [MEDIA_TYPE.index])).bytes.toString()) as {
      manifests: { digest: string }[];
    };
    const manifest = JSON.parse(
      (await c.getManifest(index.manifests[0]!.digest, [MEDIA_TYPE.manifest])).bytes.toString(),
    ) as { layers: { digest: string }[] };
    return manifest.layers[0]!.digest;
  } finally {
    c.close();
  }
}

/** distribution's blob path: <first two hex digits>/<hex>/data. */
function digestPath(digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(hex.slice(0, 2), hex, 'data');
}
