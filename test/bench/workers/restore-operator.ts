import { basename } from 'node:path';
import { pushCheckpointImage } from '../../../src/oci/push-checkpoint-image.js';
import { RegistryClient } from '../../../src/oci/registry-client.js';
import { S3Backend } from '../../../src/storage/s3.js';
import { restoreArgs } from './restore-args.js';
import { reportAndExit } from './worker-args.js';

/**
 * The restore Job's data path as runRestoreAction drives it: the archive streamed from S3 into
 * the registry as the image's layer while its tar is read for metadata, committed only once size
 * and sha256 match, then config, manifest and index pushed.
 */
const a = restoreArgs();
const backend = new S3Backend({
  endpoint: a.s3.endpoint,
  bucket: a.s3.bucket,
  forcePathStyle: true,
  credentials: a.s3.credentials,
});
const client = new RegistryClient({ repository: a.repository });
const started = performance.now();
const pushed = await pushCheckpointImage({
  client,
  archive: await backend.get(a.s3.key),
  expected: { sizeBytes: a.archive.sizeBytes, sha256: a.archive.sha256 },
  containerName: 'main',
  fileName: basename(a.s3.key),
  createdAt: a.archive.createdAt,
  tag: 'restore',
}).finally(() => client.close());
const ms = performance.now() - started;
if (!pushed.digest.startsWith('sha256:')) throw new Error(`pushed image has no digest: ${JSON.stringify(pushed)}`);
reportAndExit(ms, a.archive.sizeBytes);
