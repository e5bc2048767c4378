import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { ArchiveMetadataTap, containerdContainerName } from '../../src/kubelet/archive-metadata.js';
import { checkArchivePath } from '../../src/kubelet/checkpoint-client.js';

async function tarOf(entries: Record<string, Buffer | string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(entries)) p.entry({ name }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p as unknown as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function tap(bytes: Buffer) {
  const t = new ArchiveMetadataTap();
  const out: Buffer[] = [];
  // Small chunks: metadata files straddle chunk boundaries as they do on the wire.
  const chunks = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, i) =>
    bytes.subarray(i * 1000, (i + 1) * 1000),
  );
  await pipeline(
    Readable.from(chunks),
    t,
    new Writable({
      write(c, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return { t, out: Buffer.concat(out) };
}

const config = {
  id: '3f2a',
  name: 'main',
  rootfsImage: 'quay.io/app/web:1.2',
  rootfsImageRef: 'sha256:abc',
  rootfsImageName: 'quay.io/app/web:1.2',
  runtime: 'runc',
  createdTime: '2026-11-25T02:00:00Z',
  checkpointedTime: '2026-11-25T03:00:00.123Z',
};
const spec = {
  annotations: {
    'io.kubernetes.pod.name': 'web-0',
    'io.kubernetes.pod.namespace': 'team-a',
    'io.kubernetes.container.name': 'main',
  },
};

describe('ArchiveMetadataTap', () => {
  it('reads config.dump and spec.dump while passing every byte through', async () => {
    const archive = await tarOf({
      'config.dump': JSON.stringify(config),
      'spec.dump': JSON.stringify(spec),
      'checkpoint/pages-1.img': randomBytes(256 * 1024),
      'rootfs-diff.tar': Buffer.alloc(0),
    });
    const { t, out } = await tap(archive);
    expect(out.equals(archive)).toBe(true);
    expect(await t.metadata()).toEqual({
      containerName: 'main',
      containerId: '3f2a',
      image: 'quay.io/app/web:1.2',
      imageRef: 'sha256:abc',
      runtime: 'runc',
      createdAt: '2026-11-25T02:00:00Z',
      checkpointedAt: '2026-11-25T03:00:00.123Z',
      podName: 'web-0',
      podNamespace: 'team-a',
    });
  });

  it("names the container from containerd's own name when a restored container's annotation says 'containerd'", async () => {
    const restoredConfig = {
      ...config,
      name: 'main_pvc-app_restore-e2e_af64023e-be37-413d-828b-933ec1d90dc2_1',
      runtime: 'io.containerd.runc.v2',
    };
    const restoredSpec = {
      annotations: {
        'io.kubernetes.cri.container-name': 'containerd',
        'io.kubernetes.cri.sandbox-name': 'pvc-app',
        'io.kubernetes.cri.sandbox-namespace': 'restore-e2e',
      },
    };
    const { t } = await tap(
      await tarOf({ 'config.dump': JSON.stringify(restoredConfig), 'spec.dump': JSON.stringify(restoredSpec) }),
    );
    expect(await t.metadata()).toMatchObject({
      containerName: 'main',
      podName: 'pvc-app',
      podNamespace: 'restore-e2e',
    });
  });

  it.each([
    ['main_web-0_team-a_5f2c9a1e-0000-4000-8000-000000000000_0', 'main'],
    ['main_web-0_team-a_uid', undefined],
    ['main_web-0_team-a_uid_x', undefined],
    ['main__team-a_uid_0', undefined],
    ['main', undefined],
  ])('reads containerd name %s as container %s', (name, container) => {
    expect(containerdContainerName(name)).toBe(container);
  });

  it('reads the names containerd writes: io.kubernetes.cri.* annotations, not its own container name', async () => {
    const containerdConfig = {
      ...config,
      name: 'main_web-0_team-a_5f2c9a1e-0000-4000-8000-000000000000_0',
      runtime: 'io.containerd.runc.v2',
    };
    const containerdSpec = {
      annotations: {
        'io.kubernetes.cri.container-name': 'main',
        'io.kubernetes.cri.sandbox-name': 'web-0',
        'io.kubernetes.cri.sandbox-namespace': 'team-a',
        'io.kubernetes.cri.image-name': 'quay.io/app/web:1.2',
      },
    };
    const { t } = await tap(
      await tarOf({ 'config.dump': JSON.stringify(containerdConfig), 'spec.dump': JSON.stringify(containerdSpec) }),
    );
    expect(await t.metadata()).toMatchObject({
      containerName: 'main',
      podName: 'web-0',
      podNamespace: 'team-a',
      runtime: 'io.containerd.runc.v2',
    });
  });

  it('refuses a tar without config.dump', async () => {
    const { t } = await tap(await tarOf({ 'hello.txt': 'hi' }));
    await expect(t.metadata()).rejects.toThrow('no config.dump');
  });

  it('refuses bytes that are not a tar, yet still passes them through', async () => {
    const junk = randomBytes(10_000);
    const { t, out } = await tap(junk);
    expect(out.equals(junk)).toBe(true);
    await expect(t.metadata()).rejects.toThrow();
  });

  it('passes large bytes that are not a tar through to their end, without stalling', async () => {
    const junk = randomBytes(8 * 1024 * 1024);
    const t = new ArchiveMetadataTap();
    const out: Buffer[] = [];
    const chunks = Array.from({ length: junk.length / 65536 }, (_, i) => junk.subarray(i * 65536, (i + 1) * 65536));
    await pipeline(
      Readable.from(chunks),
      t,
      new Writable({
        write(c, _e, cb) {
          out.push(c);
          cb();
        },
      }),
    );
    expect(Buffer.concat(out).equals(junk)).toBe(true);
    await expect(t.metadata()).rejects.toThrow();
  });

  it('refuses a config.dump that is not JSON', async () => {
    const { t } = await tap(await tarOf({ 'config.dump': '{not json' }));
    await expect(t.metadata()).rejects.toThrow('config.dump in the archive is not valid JSON');
  });
});

describe('checkArchivePath', () => {
  it('accepts the kubelet file name', () => {
    const p = '/var/lib/kubelet/checkpoints/checkpoint-web-0_team-a-main-2026-11-25T03:00:00Z.tar';
    expect(checkArchivePath(p)).toBe(p);
  });

  it.each([
    '/etc/shadow',
    '/var/lib/kubelet/checkpoints/../../../etc/shadow.tar',
    '/var/lib/kubelet/checkpoints/sub/dir.tar',
    '/var/lib/kubelet/checkpoints/.hidden.tar',
    '/var/lib/kubelet/checkpoints/checkpoint.tgz',
    'var/lib/kubelet/checkpoints/x.tar',
  ])('refuses %s', (p) => {
    expect(() => checkArchivePath(p)).toThrow('outside');
  });
});
