import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECKPOINT_ANNOTATION, sha256Digest } from '../../src/oci/checkpoint-image.js';
import { RegistryClient } from '../../src/oci/registry-client.js';
import { RegistryError } from '../../src/oci/registry-error.js';
import { CheckpointImageError, pushCheckpointImage } from '../../src/oci/push-checkpoint-image.js';
import { deleteCheckpointImage } from '../../src/oci/delete-checkpoint-image.js';
import { generateCa } from '../cluster/pki.js';
import { freePort } from '../cluster/ports.js';
import { type RegistryServer, startRegistry } from '../cluster/registry.js';
import { clusterContext } from './support/cluster-context.js';
import {
  generatedArchive,
  type GeneratedArchive,
  OCI_INDEX,
  OCI_MANIFEST,
  registryGet,
  registryHead,
} from './support/registry.js';

const { registryHost, clusterDir } = clusterContext();

async function push(
  client: RegistryClient,
  archive: GeneratedArchive,
  over: { sha256?: string; sizeBytes?: number; tag?: string } = {},
) {
  return pushCheckpointImage({
    client,
    archive: archive.open(),
    expected: { sizeBytes: over.sizeBytes ?? archive.sizeBytes, sha256: over.sha256 ?? archive.sha256 },
    containerName: 'main',
    fileName: archive.fileName,
    createdAt: archive.createdAt,
    tag: over.tag ?? 'team-a_web-0-11111111-222',
  });
}

async function failure(p: Promise<unknown>): Promise<RegistryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RegistryError);
  return err as RegistryError;
}

/**
 * Bytes of upload sessions the registry still holds for a repository, read from its storage
 * (a cancelled session leaves only an empty hash-state directory behind in distribution 2.8).
 */
async function uploadedBytes(repo: string): Promise<string[]> {
  const root = join(clusterDir, 'registry/data/docker/registry/v2/repositories', repo, '_uploads');
  const entries = await readdir(root, { recursive: true }).catch(() => []);
  return entries.filter((e) => e.endsWith('/data') || e === 'data');
}

describe('checkpoint images in a real registry (distribution)', () => {
  let archive: GeneratedArchive;
  const clients: RegistryClient[] = [];
  const client = (repository: string, opts: Partial<ConstructorParameters<typeof RegistryClient>[0]> = {}) => {
    // The cluster's registry speaks plain HTTP at the cluster host's address.
    const c = new RegistryClient({ repository, insecure: true, ...opts });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    archive = await generatedArchive('main', 3 * 1024 * 1024);
  });
  afterAll(() => {
    for (const c of clients) c.close();
  });

  it('pushes the archive as the single layer of an index and manifest carrying the checkpoint annotations', async () => {
    const pushed = await push(client(`${registryHost}/checkpoints/oci-e2e`), archive);
    expect(pushed.reference).toBe(`${registryHost}/checkpoints/oci-e2e@${pushed.digest}`);
    expect(pushed.metadata).toMatchObject({
      containerName: 'main',
      podName: 'web-0',
      podNamespace: 'team-a',
      runtime: 'runc',
    });

    const index = await registryGet(
      registryHost,
      `checkpoints/oci-e2e/manifests/${pushed.digest}`,
      `${OCI_INDEX}, ${OCI_MANIFEST}`,
    );
    expect(index.status).toBe(200);
    expect(index.digest).toBe(pushed.digest);
    const indexJson = JSON.parse(index.body.toString());
    expect(indexJson.mediaType).toBe(OCI_INDEX);
    expect(indexJson.manifests).toHaveLength(1);
    expect(indexJson.manifests[0]).toMatchObject({
      digest: pushed.manifestDigest,
      platform: { architecture: 'amd64', os: 'linux' },
    });

    const manifest = await registryGet(
      registryHost,
      `checkpoints/oci-e2e/manifests/${pushed.manifestDigest}`,
      OCI_MANIFEST,
    );
    expect(manifest.digest).toBe(pushed.manifestDigest);
    const manifestJson = JSON.parse(manifest.body.toString());
    expect(manifestJson.layers).toEqual([
      expect.objectContaining({ digest: `sha256:${archive.sha256}`, size: archive.sizeBytes }),
    ]);
    for (const doc of [indexJson, manifestJson]) {
      expect(doc.annotations).toMatchObject({
        [CHECKPOINT_ANNOTATION.crioName]: 'main',
        [CHECKPOINT_ANNOTATION.containerName]: 'main',
        [CHECKPOINT_ANNOTATION.podName]: 'web-0',
        [CHECKPOINT_ANNOTATION.podNamespace]: 'team-a',
        [CHECKPOINT_ANNOTATION.rootfsImageName]: 'registry.example.com/sample-app:1.0',
      });
    }
    const layer = await registryGet(registryHost, `checkpoints/oci-e2e/blobs/sha256:${archive.sha256}`);
    expect(layer.digest).toBe(`sha256:${archive.sha256}`);
    const config = await registryGet(registryHost, `checkpoints/oci-e2e/blobs/${manifestJson.config.digest}`);
    expect(JSON.parse(config.body.toString()).rootfs.diff_ids).toEqual([`sha256:${archive.sha256}`]);

    const tag = await registryGet(registryHost, 'checkpoints/oci-e2e/manifests/team-a_web-0-11111111-222', OCI_INDEX);
    expect(tag.digest).toBe(pushed.digest);
  });

  it('pushes the identical image again: same digests, the layer already there but the archive read and verified anyway', async () => {
    const first = await push(client(`${registryHost}/checkpoints/oci-e2e`), archive);
    const again = await push(client(`${registryHost}/checkpoints/oci-e2e`), archive);
    expect(again).toEqual(first);
    const err = await failure(
      push(client(`${registryHost}/checkpoints/oci-e2e`), archive, { sizeBytes: archive.sizeBytes + 1 }),
    );
    expect(err.reason).toBe('SizeMismatch');
  });

  it('commits nothing when the archive is not what was recorded (ChecksumMismatch)', async () => {
    const wrong = 'e'.repeat(64);
    const err = await failure(
      push(client(`${registryHost}/checkpoints/oci-e2e-wrong`), archive, { sha256: wrong, tag: 'wrong' }),
    );
    expect(err.reason).toBe('ChecksumMismatch');
    expect(err.message).toContain(archive.sha256);
    expect(await registryHead(registryHost, `checkpoints/oci-e2e-wrong/blobs/sha256:${wrong}`)).toBe(404);
    expect(await registryHead(registryHost, `checkpoints/oci-e2e-wrong/blobs/sha256:${archive.sha256}`)).toBe(404);
    expect((await registryGet(registryHost, 'checkpoints/oci-e2e-wrong/manifests/wrong', OCI_INDEX)).status).toBe(404);
    const tags = await registryGet(registryHost, 'checkpoints/oci-e2e-wrong/tags/list');
    expect(tags.status === 404 || !(JSON.parse(tags.body.toString()).tags ?? []).includes('wrong')).toBe(true);
    expect(await uploadedBytes('checkpoints/oci-e2e-wrong')).toEqual([]);
  });

  it('stops sending and commits nothing when the archive is longer than recorded (SizeMismatch)', async () => {
    const err = await failure(
      push(client(`${registryHost}/checkpoints/oci-e2e-short`), archive, { sizeBytes: 1024 * 1024, tag: 'short' }),
    );
    expect(err.reason).toBe('SizeMismatch');
    expect(await registryHead(registryHost, `checkpoints/oci-e2e-short/blobs/sha256:${archive.sha256}`)).toBe(404);
    expect(await uploadedBytes('checkpoints/oci-e2e-short')).toEqual([]);
  });

  it('reports a failing archive read as itself, and leaves nothing of the partial upload', async () => {
    let sent = 0;
    const failing = new Readable({
      read() {
        if (sent >= 2 * 1024 * 1024) return this.destroy(new Error('the archive vanished from storage'));
        sent += 256 * 1024;
        this.push(Buffer.alloc(256 * 1024, 7));
      },
    });
    const pushing = pushCheckpointImage({
      client: client(`${registryHost}/checkpoints/oci-e2e-broken`),
      archive: failing,
      expected: { sizeBytes: archive.sizeBytes, sha256: archive.sha256 },
      containerName: 'main',
      fileName: archive.fileName,
      createdAt: archive.createdAt,
      tag: 'broken',
    });
    await expect(pushing).rejects.toThrow('the archive vanished from storage');
    expect(await registryHead(registryHost, `checkpoints/oci-e2e-broken/blobs/sha256:${archive.sha256}`)).toBe(404);
    expect(await uploadedBytes('checkpoints/oci-e2e-broken')).toEqual([]);
  });

  it('refuses bytes that are not a checkpoint archive, with no image pointing at them', async () => {
    const bytes = Buffer.alloc(300 * 1024, 1);
    const sha256 = sha256Digest(bytes).slice('sha256:'.length);
    const pushing = pushCheckpointImage({
      client: client(`${registryHost}/checkpoints/oci-e2e-junk`),
      archive: Readable.from([bytes]),
      expected: { sizeBytes: bytes.length, sha256 },
      containerName: 'main',
      fileName: 'junk.tar',
      createdAt: archive.createdAt,
      tag: 'junk',
    });
    await expect(pushing).rejects.toBeInstanceOf(CheckpointImageError);
    expect((await registryGet(registryHost, 'checkpoints/oci-e2e-junk/manifests/junk', OCI_INDEX)).status).toBe(404);
  });

  it('deletes a pushed image: its archive layer, manifest and index, and the tag with them', async () => {
    const c = client(`${registryHost}/checkpoints/oci-e2e-delete`);
    const pushed = await push(c, archive, { tag: 'to-be-deleted' });
    const layer = `checkpoints/oci-e2e-delete/blobs/sha256:${archive.sha256}`;
    expect(await registryHead(registryHost, layer)).toBe(200);
    expect(await deleteCheckpointImage(c, pushed.digest)).toBe('deleted');
    for (const path of [
      `manifests/${pushed.digest}`,
      `manifests/${pushed.manifestDigest}`,
      'manifests/to-be-deleted',
    ]) {
      expect(
        (await registryGet(registryHost, `checkpoints/oci-e2e-delete/${path}`, `${OCI_INDEX}, ${OCI_MANIFEST}`)).status,
        path,
      ).toBe(404);
    }
    expect(await registryHead(registryHost, layer)).toBe(404);
    // Again: nothing left to delete is not an error.
    expect(await deleteCheckpointImage(c, pushed.digest)).toBe('gone');
  });

  it('a registry that does not allow deletes refuses with 405, and the image stays whole', async () => {
    const strict = await startRegistry({ dir: await mkdtemp(join(tmpdir(), 'oci-nodelete-')), deletes: false });
    try {
      const c = client(`${strict.host}/checkpoints/kept`);
      const pushed = await push(c, archive);
      const err = await failure(deleteCheckpointImage(c, pushed.digest));
      expect(err.details.status).toBe(405);
      expect((await c.getManifest(pushed.digest, [OCI_INDEX])).digest).toBe(pushed.digest);
      expect(await c.blobExists(`sha256:${archive.sha256}`)).toBe(true);
    } finally {
      await strict.stop();
    }
  });

  it('RegistryUnreachable when nothing listens', async () => {
    const port = await freePort();
    const err = await failure(push(client(`127.0.0.1:${port}/checkpoints/x`, { connectTimeoutMs: 2000 }), archive));
    expect(err.reason).toBe('RegistryUnreachable');
    expect(err.message).toContain(`127.0.0.1:${port}`);
  });

  describe('a registry serving TLS with a certificate from a private CA', () => {
    let registry: RegistryServer;
    let dir: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'oci-tls-'));
      registry = await startRegistry({ dir, auth: 'basic', tls: true });
    });
    afterAll(async () => {
      await registry?.stop();
    });
    const credentials = () => ({ username: registry.username!, password: registry.password! });

    it('pushes over HTTPS, verified against the CA it was given, although the registry is on loopback', async () => {
      expect(registry.url.startsWith('https://')).toBe(true);
      const c = client(`${registry.host}/checkpoints/tls`, {
        credentials: credentials(),
        ca: Buffer.from(registry.ca!),
      });
      const pushed = await push(c, archive);
      expect((await c.getManifest(pushed.digest, [OCI_INDEX])).digest).toBe(pushed.digest);
    });

    it('RegistryTLSError when the CA it was given did not sign the certificate', async () => {
      const other = await generateCa(dir, 'unrelated-ca', 'unrelated-ca');
      const err = await failure(
        push(
          client(`${registry.host}/checkpoints/tls`, { credentials: credentials(), ca: await readFile(other.caCert) }),
          archive,
        ),
      );
      expect(err.reason).toBe('RegistryTLSError');
      expect(err.message).toContain(registry.host);
    });
  });

  describe.each(['basic', 'token'] as const)('a registry with %s auth', (auth) => {
    let registry: RegistryServer;
    beforeAll(async () => {
      registry = await startRegistry({ dir: await mkdtemp(join(tmpdir(), `oci-${auth}-`)), auth });
    });
    afterAll(async () => {
      await registry?.stop();
    });

    it('takes the push with the right credentials', async () => {
      const c = client(`${registry.host}/checkpoints/guarded`, {
        credentials: { username: registry.username!, password: registry.password! },
      });
      const pushed = await push(c, archive);
      const fetched = await c.getManifest(pushed.digest, [OCI_INDEX]);
      expect(fetched.digest).toBe(pushed.digest);
    });

    it('RegistryAuthFailed with a wrong password, which no message repeats', async () => {
      const password = `wrong-${registry.password!.slice(0, 8)}-pw`;
      const err = await failure(
        push(
          client(`${registry.host}/checkpoints/guarded`, { credentials: { username: registry.username!, password } }),
          archive,
        ),
      );
      expect(err.reason).toBe('RegistryAuthFailed');
      expect(err.message).toContain(registry.username!);
      expect(err.message).not.toContain(password);
      expect(err.message).not.toContain(Buffer.from(`${registry.username}:${password}`).toString('base64'));
    });

    it('RegistryAuthFailed without credentials', async () => {
      const err = await failure(push(client(`${registry.host}/checkpoints/guarded`), archive));
      expect(err.reason).toBe('RegistryAuthFailed');
    });
  });
});
