import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { buildCheckpointImage, CHECKPOINT_ANNOTATION, MEDIA_TYPE } from '../../src/oci/checkpoint-image.js';

const sha = 'ab'.repeat(32);
const input = {
  containerName: 'main',
  archive: {
    sizeBytes: 1_062_400,
    sha256: sha,
    fileName: 'checkpoint-web-0_team-a-main-20261125T030000Z.tar',
    createdAt: '2026-11-25T03:00:00.123Z',
  },
  metadata: {
    containerName: 'main',
    image: 'quay.io/app/web:1.2',
    imageRef: 'sha256:0123',
    runtime: 'runc',
    podName: 'web-0',
    podNamespace: 'team-a',
    createdAt: '2026-11-25T02:00:00Z',
  },
};

const json = (b: { bytes: Buffer }) => JSON.parse(b.bytes.toString('utf8'));
const digestOf = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe('buildCheckpointImage', () => {
  it('is deterministic: the same inputs give the same bytes and digests', () => {
    const a = buildCheckpointImage(input);
    const b = buildCheckpointImage(structuredClone(input));
    for (const part of ['config', 'manifest', 'index'] as const) {
      expect(a[part].bytes.equals(b[part].bytes)).toBe(true);
      expect(a[part].digest).toBe(b[part].digest);
      expect(a[part].digest).toBe(digestOf(a[part].bytes));
    }
  });

  it('does not depend on the order metadata fields come in', () => {
    const reordered = { ...input, metadata: Object.fromEntries(Object.entries(input.metadata).reverse()) };
    expect(buildCheckpointImage(reordered).index.digest).toBe(buildCheckpointImage(input).index.digest);
  });

  it('has the archive itself as its only, uncompressed layer', () => {
    const manifest = json(buildCheckpointImage(input).manifest);
    expect(manifest.layers).toEqual([
      {
        mediaType: MEDIA_TYPE.layer,
        digest: `sha256:${sha}`,
        size: 1_062_400,
        annotations: { [CHECKPOINT_ANNOTATION.title]: input.archive.fileName },
      },
    ]);
  });

  it('has a config for the platform, dated by the archive, with the layer as its rootfs', () => {
    const { config, manifest } = buildCheckpointImage(input);
    expect(config.mediaType).toBe(MEDIA_TYPE.config);
    const c = json(config);
    expect(c).toMatchObject({
      architecture: 'amd64',
      os: 'linux',
      created: input.archive.createdAt,
      rootfs: { type: 'layers', diff_ids: [`sha256:${sha}`] },
    });
    expect(c.history).toHaveLength(1);
    expect(json(manifest).config).toEqual({
      mediaType: MEDIA_TYPE.config,
      digest: config.digest,
      size: config.bytes.length,
    });
    const arm = json(buildCheckpointImage({ ...input, platform: { architecture: 'arm64', os: 'linux' } }).config);
    expect(arm.architecture).toBe('arm64');
  });

  it('is a valid OCI manifest and index, the index naming the manifest with its platform', () => {
    const { manifest, index } = buildCheckpointImage(input);
    expect(manifest.mediaType).toBe(MEDIA_TYPE.manifest);
    expect(index.mediaType).toBe(MEDIA_TYPE.index);
    expect(json(manifest)).toMatchObject({ schemaVersion: 2, mediaType: MEDIA_TYPE.manifest });
    expect(json(index)).toMatchObject({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE.index,
      manifests: [
        {
          mediaType: MEDIA_TYPE.manifest,
          digest: manifest.digest,
          size: manifest.bytes.length,
          platform: { architecture: 'amd64', os: 'linux' },
        },
      ],
    });
  });

  it('carries the checkpoint annotations on both the manifest and the index', () => {
    const { manifest, index } = buildCheckpointImage(input);
    const expected = {
      'io.kubernetes.cri-o.annotations.checkpoint.name': 'main',
      'org.criu.checkpoint.container.name': 'main',
      'org.criu.checkpoint.rootfsImageName': 'quay.io/app/web:1.2',
      'org.criu.checkpoint.rootfsImageID': 'sha256:0123',
      'org.criu.checkpoint.runtime.name': 'runc',
      'org.criu.checkpoint.pod.name': 'web-0',
      'org.criu.checkpoint.pod.namespace': 'team-a',
      'org.opencontainers.image.created': '2026-11-25T03:00:00.123Z',
    };
    expect(json(manifest).annotations).toEqual(expected);
    expect(json(index).annotations).toEqual(expected);
  });

  it('leaves out annotations whose value is unknown', () => {
    const { index } = buildCheckpointImage({ ...input, metadata: { containerName: 'main', image: '' } });
    expect(Object.keys(json(index).annotations).sort()).toEqual([
      'io.kubernetes.cri-o.annotations.checkpoint.name',
      'org.criu.checkpoint.container.name',
      'org.opencontainers.image.created',
    ]);
  });
});
