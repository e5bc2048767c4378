import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { ArchiveMetadata } from '../../kubelet/archive-metadata.js';
import { type ArchiveBackend, BackendError, type StoredArchive } from '../../storage/backend.js';

/**
 * The data path of a checkpoint: one read of the kubelet's archive, streamed into the backend
 * (which hashes it on the way) while its metadata is read from the tar headers, then checked in
 * storage. Memory stays bounded by the backend's buffers whatever the archive's size.
 */
export async function storeArchive(
  path: string,
  backend: ArchiveBackend,
  key: string,
): Promise<{ stored: StoredArchive; meta: ArchiveMetadata }> {
  // Loaded here rather than at start-up: the tar parser is only needed once the kubelet has
  // written an archive, and a Job that finds nothing to do never needs it.
  const { ArchiveMetadataTap } = await import('../../kubelet/archive-metadata.js');
  const tap = new ArchiveMetadataTap();
  const { size } = await stat(path);
  const storing = backend.put(key, tap, size);
  // A backend that fails before reading its input must not leave the read side waiting for ever.
  storing.catch((err: Error) => tap.destroy(err));
  // Default 64 KiB reads unless the backend asks otherwise: for S3, larger ones measured faster
  // but raised the Job's peak RSS by ~10 MiB.
  const reading = pipeline(
    createReadStream(path, backend.readSizeBytes ? { highWaterMark: backend.readSizeBytes } : {}),
    tap,
  ).then(
    () => undefined,
    (err: unknown) => err,
  );
  // The backend's verdict first: when it fails it stops reading, and the read side then only
  // reports that it was cut short. A failing read reaches the backend as its input's error.
  const stored = await storing;
  const readFailure = await reading;
  if (readFailure) {
    await backend.delete(key).catch(() => undefined);
    throw readFailure;
  }
  const meta = await tap.metadata().catch(async (err: Error) => {
    await backend.delete(key);
    throw new BackendError('ArchiveInvalid', `the kubelet's archive is unusable: ${err.message}`);
  });
  const check = await backend.stat(key);
  if (check?.sizeBytes !== stored.sizeBytes) {
    throw new BackendError(
      'StorageVerifyFailed',
      `storage holds ${check?.sizeBytes ?? 'no'} bytes for ${stored.uri}, ${stored.sizeBytes} were written`,
    );
  }
  return { stored, meta };
}
