import type { JobStorage } from './storage-input.js';
import { ARCHIVE_MOUNT_PATH } from './storage-input.js';
import { type ArchiveBackend, BackendError } from '../../storage/backend.js';
import { FilesystemBackend } from '../../storage/filesystem.js';

/**
 * The backend a Job was told to use. local and pvc are the directory mounted at /archive; S3 is
 * loaded only when needed, since the S3 SDK is most of a Job's code.
 */
export async function backendFor(storage: JobStorage, s3SecretDir: string): Promise<ArchiveBackend> {
  switch (storage.backend) {
    case 'local':
      return new FilesystemBackend(ARCHIVE_MOUNT_PATH, `local://${storage.nodeName}${storage.path}`);
    case 'pvc':
      return new FilesystemBackend(ARCHIVE_MOUNT_PATH, `pvc://${storage.claimName}`);
    case 's3':
      return import('./s3-backend-for.js')
        .then(({ s3BackendFor }) => s3BackendFor(storage, s3SecretDir))
        .catch((err: Error) => {
          throw new BackendError(
            'CredentialsUnreadable',
            `cannot read the S3 Secret mounted at ${s3SecretDir}: ${err.message}`,
          );
        });
  }
}
