import { createHash } from 'node:crypto';
import type { ArchiveMetadata } from '../kubelet/archive-metadata.js';

export const MEDIA_TYPE = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
} as const;

/** The annotation names CRI-O and checkpointctl read from a checkpoint image. */
export const CHECKPOINT_ANNOTATION = {
  crioName: 'io.kubernetes.cri-o.annotations.checkpoint.name',
  containerName: 'org.criu.checkpoint.container.name',
  rootfsImageName: 'org.criu.checkpoint.rootfsImageName',
  rootfsImageID: 'org.criu.checkpoint.rootfsImageID',
  runtimeName: 'org.criu.checkpoint.runtime.name',
  podName: 'org.criu.checkpoint.pod.name',
  podNamespace: 'org.criu.checkpoint.pod.namespace',
  created: 'org.opencontainers.image.created',
  title: 'org.opencontainers.image.title',
} as const;

export interface CheckpointImageInput {
  /** The checkpointed container's name. */
  containerName: string;
  archive: { sizeBytes: number; sha256: string; fileName: string; createdAt: string };
  metadata: ArchiveMetadata;
  platform?: { architecture: string; os: string };
}

export interface Blob {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/**
 * A checkpoint image: the archive, unchanged, as its single layer, with the annotations runtimes
 * look for on both the manifest and the index. Built only from its inputs (no clock, sorted
 * annotations), so the same archive always yields the same bytes and digests and a re-run Job
 * pushes the identical image.
 */
export function buildCheckpointImage(input: CheckpointImageInput): { config: Blob; manifest: Blob; index: Blob } {
  const platform = input.platform ?? { architecture: 'amd64', os: 'linux' };
  const layerDigest = `sha256:${input.archive.sha256}`;
  const config = blob(MEDIA_TYPE.config, {
    created: input.archive.createdAt,
    architecture: platform.architecture,
    os: platform.os,
    config: {},
    rootfs: { type: 'layers', diff_ids: [layerDigest] },
    history: [
      {
        created: input.archive.createdAt,
        created_by: `container checkpoint of ${input.containerName}`,
        comment: input.archive.fileName,
      },
    ],
  });
  const annotations = checkpointAnnotations(input);
  const layer: Descriptor = {
    mediaType: MEDIA_TYPE.layer,
    digest: layerDigest,
    size: input.archive.sizeBytes,
    annotations: { [CHECKPOINT_ANNOTATION.title]: input.archive.fileName },
  };
  const manifest = blob(MEDIA_TYPE.manifest, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.manifest,
    config: descriptorOf(config),
    layers: [layer],
    annotations,
  });
  const index = blob(MEDIA_TYPE.index, {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE.index,
    manifests: [{ ...descriptorOf(manifest), platform }],
    annotations,
  });
  return { config, manifest, index };
}

/** What a runtime reads to recognise the image as a checkpoint and to judge where it came from. */
export function checkpointAnnotations(
  input: Pick<CheckpointImageInput, 'containerName' | 'metadata' | 'archive'>,
): Record<string, string> {
  const m = input.metadata;
  const all: [string, string | undefined][] = [
    [CHECKPOINT_ANNOTATION.crioName, input.containerName],
    [CHECKPOINT_ANNOTATION.containerName, input.containerName],
    [CHECKPOINT_ANNOTATION.rootfsImageName, m.image],
    [CHECKPOINT_ANNOTATION.rootfsImageID, m.imageRef],
    [CHECKPOINT_ANNOTATION.runtimeName, m.runtime],
    [CHECKPOINT_ANNOTATION.podName, m.podName],
    [CHECKPOINT_ANNOTATION.podNamespace, m.podNamespace],
    [CHECKPOINT_ANNOTATION.created, input.archive.createdAt],
  ];
  const known = all.filter((e): e is [string, string] => typeof e[1] === 'string' && e[1].length > 0);
  return Object.fromEntries(known.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function descriptorOf(b: Blob): Descriptor {
  return { mediaType: b.mediaType, digest: b.digest, size: b.bytes.length };
}

export function sha256Digest(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blob(mediaType: string, value: unknown): Blob {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { bytes, digest: sha256Digest(bytes), mediaType };
}
