import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type JobStorage, S3_SECRET_KEYS } from './storage-input.js';
import { S3Backend } from '../../storage/s3.js';

type S3JobStorage = Extract<JobStorage, { backend: 's3' }>;

/**
 * The S3 backend a Job was told to use, with credentials and CA bundle read from the per-Job
 * Secret's files. With `ambient` credentials the SDK's default chain applies (web identity,
 * container or instance role).
 */
export async function s3BackendFor(storage: S3JobStorage, secretDir: string): Promise<S3Backend> {
  const file = (key: string) => readFile(join(secretDir, key));
  const text = async (key: string) => (await file(key)).toString('utf8').trim();
  const credentials =
    storage.credentials === 'secret'
      ? {
          accessKeyId: await text(S3_SECRET_KEYS.accessKeyId),
          secretAccessKey: await text(S3_SECRET_KEYS.secretAccessKey),
          sessionToken: await text(S3_SECRET_KEYS.sessionToken).catch(() => undefined),
        }
      : undefined;
  return new S3Backend({
    endpoint: storage.endpoint,
    bucket: storage.bucket,
    prefix: storage.prefix,
    region: storage.region,
    forcePathStyle: storage.forcePathStyle,
    insecure: storage.insecure,
    serverSideEncryption: storage.serverSideEncryption,
    ...(credentials ? { credentials } : {}),
    ...(storage.caBundle ? { caBundle: await file(S3_SECRET_KEYS.caBundle) } : {}),
  });
}
