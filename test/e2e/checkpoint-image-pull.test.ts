import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCheckpointImage, MEDIA_TYPE, sha256Digest } from '../../src/oci/checkpoint-image.js';
import { RegistryClient } from '../../src/oci/registry-client.js';
import { pushCheckpointImage } from '../../src/oci/push-checkpoint-image.js';
import { freePort } from '../cluster/ports.js';
import { type RegistryServer, startRegistry } from '../cluster/registry.js';
import { runWorkload } from './support/checkpoints.js';
import { clusterContext } from './support/cluster-context.js';
import { kubectl } from './support/kube.js';
import { generatedArchive, type GeneratedArchive } from './support/registry.js';

const NS = 'image-pull-e2e';
const { registryHost } = clusterContext();
const REPO = `${registryHost}/checkpoints/pull-e2e`;

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
  await kubectl(['patch', 'pod', pod, '-n', NS, '--type=json', '-p', JSON.stringify([{ op: 'replace', path: '/spec/containers/0/image', value: image }])]);
}

async function waitFor(pod: string, test: (s: ContainerStatus) => boolean): Promise<ContainerStatus> {
  let last: ContainerStatus | undefined;
  await expect.poll(async () => { last = await containerStatus(pod); return last ? test(last) : false; }, { timeout: 60_000, interval: 250 }).toBe(true);
  return last!;
}

/** An image with the checkpoint annotations whose single layer is `layer` (any bytes). */
async function pushImage(client: RegistryClient, layer: Buffer, containerName: string, tag: string): Promise<string> {
  const sha256 = sha256Digest(layer).slice('sha256:'.length);
  const image = buildCheckpointImage({
    containerName, metadata: { containerName },
    archive: { sizeBytes: layer.length, sha256, fileName: 'layer.tar', createdAt: '2026-11-25T03:00:00Z' },
  });
  await client.uploadBlob(Readable.from([layer]), { digest: `sha256:${sha256}`, size: layer.length });
  await client.uploadBlob(Readable.from([image.config.bytes]), { digest: image.config.digest, size: image.config.bytes.length });
  await client.putManifest(image.manifest.digest, image.manifest.bytes, MEDIA_TYPE.manifest);
  return client.putManifest(tag, image.index.bytes, MEDIA_TYPE.index);
}

async function plainTar(): Promise<Buffer> {
  const p = pack();
  p.entry({ name: 'hello.txt' }, 'not a checkpoint');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('simulated nodes restore containers from checkpoint images', () => {
  let archive: GeneratedArchive;
  let client: RegistryClient;
  let pushedDigest: string;
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    archive = await generatedArchive('main');
    client = new RegistryClient({ repository: REPO, insecure: true });
    pushedDigest = (await pushCheckpointImage({
      client, archive: archive.open(), expected: archive, containerName: 'main', fileName: archive.fileName, createdAt: archive.createdAt, tag: 'pull-e2e',
    })).digest;
  });
  afterAll(() => client?.close());

  it('pulls and checks the image, then recreates the container from it', async () => {
    await runWorkload(NS, 'restored');
    const before = await containerStatus('restored');
    const image = `${REPO}@${pushedDigest}`;
    await setImage('restored', image);
    const after = await waitFor('restored', (s) => s.image === image && Boolean(s.state.running));
    expect(after.restartCount).toBe(before!.restartCount + 1);
    expect(after.imageID).toBe(image);
    await kubectl(['wait', '--for=condition=Ready', 'pod/restored', '-n', NS, '--timeout=30s']);
  });

  it('ErrImagePull for a digest the registry does not have', async () => {
    await runWorkload(NS, 'missing');
    await setImage('missing', `${REPO}@sha256:${'d'.repeat(64)}`);
    const s = await waitFor('missing', (x) => x.state.waiting?.reason === 'ErrImagePull');
    expect(s.state.waiting!.message).toContain('MANIFEST_UNKNOWN');
  });

  it('ErrImagePull for a registry nobody listens on', async () => {
    await runWorkload(NS, 'no-registry');
    await setImage('no-registry', `127.0.0.1:${await freePort()}/checkpoints/x@sha256:${'d'.repeat(64)}`);
    const s = await waitFor('no-registry', (x) => x.state.waiting?.reason === 'ErrImagePull');
    expect(s.state.waiting!.message).toContain('unreachable');
  });

  it('CreateContainerError for an image whose layer is not a checkpoint archive', async () => {
    const digest = await pushImage(client, await plainTar(), 'main', 'plain-tar');
    await runWorkload(NS, 'plain');
    await setImage('plain', `${REPO}@${digest}`);
    const s = await waitFor('plain', (x) => x.state.waiting?.reason === 'CreateContainerError');
    expect(s.state.waiting!.message).toContain('config.dump');
    expect(s.state.running).toBeUndefined();
  });

  it('CreateContainerError for a checkpoint of another container than the image names', async () => {
    const other = await generatedArchive('sidecar');
    const digest = await pushImage(client, await readFile(other.path), 'main', 'other-container');
    await runWorkload(NS, 'mislabelled');
    await setImage('mislabelled', `${REPO}@${digest}`);
    const s = await waitFor('mislabelled', (x) => x.state.waiting?.reason === 'CreateContainerError');
    expect(s.state.waiting!.message).toContain('sidecar');
  });

  describe('from a registry that wants credentials', () => {
    let guarded: RegistryServer;
    let digest: string;
    beforeAll(async () => {
      guarded = await startRegistry({ dir: await mkdtemp(join(tmpdir(), 'pull-basic-')), auth: 'basic' });
      const c = new RegistryClient({ repository: `${guarded.host}/checkpoints/app`, credentials: { username: guarded.username!, password: guarded.password! } });
      digest = (await pushCheckpointImage({
        client: c, archive: archive.open(), expected: archive, containerName: 'main', fileName: archive.fileName, createdAt: archive.createdAt, tag: 'v1',
      })).digest;
      c.close();
      const config = JSON.stringify({ auths: { [guarded.host]: { username: guarded.username, password: guarded.password } } });
      const file = join(await mkdtemp(join(tmpdir(), 'pull-secret-')), 'config.json');
      await writeFile(file, config, { mode: 0o600 });
      await kubectl(['create', 'secret', 'generic', 'registry-pull', '-n', NS, '--type=kubernetes.io/dockerconfigjson', `--from-file=.dockerconfigjson=${file}`]);
    });
    afterAll(async () => { await guarded?.stop(); });

    const podWithSecret = (name: string, secrets: string[]) => `apiVersion: v1
kind: Pod
metadata: { name: ${name}, namespace: ${NS} }
spec:
  terminationGracePeriodSeconds: 2
  imagePullSecrets: [${secrets.map((s) => `{ name: ${s} }`).join(', ')}]
  containers:
  - { name: main, image: registry.example.com/sample-app:1.0, command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 1; done'] }
`;

    it("uses the pod's imagePullSecrets", async () => {
      await kubectl(['apply', '-f', '-'], podWithSecret('with-secret', ['absent-secret', 'registry-pull']));
      await kubectl(['wait', '--for=condition=Ready', 'pod/with-secret', '-n', NS, '--timeout=60s']);
      const image = `${guarded.host}/checkpoints/app@${digest}`;
      await setImage('with-secret', image);
      const s = await waitFor('with-secret', (x) => x.image === image && Boolean(x.state.running));
      expect(s.imageID).toBe(image);
    });

    it('ErrImagePull without them', async () => {
      await runWorkload(NS, 'without-secret');
      await setImage('without-secret', `${guarded.host}/checkpoints/app@${digest}`);
      const s = await waitFor('without-secret', (x) => x.state.waiting?.reason === 'ErrImagePull');
      expect(s.state.waiting!.message).toContain('refused');
    });
  });
});
