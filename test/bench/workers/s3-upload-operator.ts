import { S3Backend } from '../../../src/storage/s3.js';
import { storeArchive } from '../../../src/actions/checkpoint/store-archive.js';
import { reportAndExit, workerArgs } from './worker-args.js';

/**
 * The checkpoint Job's own data path with its default settings: metadata read from the tar,
 * SHA-256 of the archive and of each part, bucket check, multipart upload, HEAD check.
 */
const a = workerArgs();
const backend = new S3Backend({
  endpoint: a.endpoint,
  bucket: a.bucket,
  forcePathStyle: true,
  credentials: a.credentials,
});
const started = performance.now();
const { stored } = await storeArchive(a.file, backend, a.key);
reportAndExit(performance.now() - started, stored.sizeBytes);
