import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ArchiveMetadata, ArchiveMetadataTap } from '../kubelet/archive-metadata.js';
import { buildCheckpointImage, MEDIA_TYPE } from './checkpoint-image.js';
import { digestReference } from './image-reference.js';
import type { RegistryClient } from './registry-client.js';

export interface PushCheckpointImageInput {
  /** A client for the repository the image goes to. */
  client: RegistryClient;
  /** The checkpoint archive's bytes, read once. */
  archive: Readable;
  /** What the Checkpoint recorded: the archive is refused unless it is exactly this. */
  expected: { sizeBytes: number; sha256: string };
  containerName: string;
  fileName: string;
  createdAt: string;
  tag: string;
  platform?: { architecture: string; os: string };
}

export interface PushedCheckpointImage {
  /** Digest of the index: the image pods are pointed at. */
  digest: string;
  manifestDigest: string;
  /** `host[:port]/path@sha256:<index digest>`. */
  reference: string;
  metadata: ArchiveMetadata;
}

/** The archive's bytes were not a checkpoint of the named container. */
export class CheckpointImageError extends Error {
  readonly reason = 'ArchiveInvalid';
}

/**
 * Packages a checkpoint archive as a checkpoint image and pushes it, in one pass over the
 * archive: its bytes stream into the registry as the image's only layer while its metadata is
 * read from the tar, and the layer is committed only once it matches the recorded size and
 * sha256. Then the config, the manifest (by digest) and the index (by tag) follow.
 */
export async function pushCheckpointImage(p: PushCheckpointImageInput): Promise<PushedCheckpointImage> {
  const tap = new ArchiveMetadataTap();
  const layer = { digest: `sha256:${p.expected.sha256}`, size: p.expected.sizeBytes };
  const uploading = p.client.uploadBlob(tap, layer);
  // A registry failing before it read the archive must not leave the read side waiting for ever.
  uploading.catch((err: Error) => tap.destroy(err));
  const reading = pipeline(p.archive, tap).then(
    () => undefined,
    (err: unknown) => err,
  );
  // The registry's verdict first: when it fails it stops reading, and the read side then only
  // reports that it was cut short. A failing read reaches the upload as its source's error.
  await uploading;
  const readFailure = await reading;
  if (readFailure) throw readFailure;
  const metadata = await tap.metadata().catch((err: Error) => {
    throw new CheckpointImageError(`${p.fileName} is not a container checkpoint archive: ${err.message}`);
  });
  if (metadata.containerName && metadata.containerName !== p.containerName) {
    throw new CheckpointImageError(
      `${p.fileName} is a checkpoint of container ${metadata.containerName}, not ${p.containerName}`,
    );
  }
  const image = buildCheckpointImage({
    containerName: p.containerName,
    archive: {
      sizeBytes: p.expected.sizeBytes,
      sha256: p.expected.sha256,
      fileName: p.fileName,
      createdAt: p.createdAt,
    },
    metadata,
    ...(p.platform ? { platform: p.platform } : {}),
  });
  await p.client.uploadBlob(Readable.from([image.config.bytes]), {
    digest: image.config.digest,
    size: image.config.bytes.length,
  });
  const manifestDigest = await p.client.putManifest(image.manifest.digest, image.manifest.bytes, MEDIA_TYPE.manifest);
  const digest = await p.client.putManifest(p.tag, image.index.bytes, MEDIA_TYPE.index);
  return { digest, manifestDigest, reference: digestReference(p.client.repository, digest), metadata };
}
