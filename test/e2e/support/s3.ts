import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { S3Access } from './cluster-context.js';

/** An admin client for the test's S3 server, to set up buckets and inspect what Jobs stored. */
export function adminS3(access: S3Access): S3Client {
  return new S3Client({
    endpoint: access.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: access.accessKeyId, secretAccessKey: access.secretAccessKey },
  });
}

export async function createBucket(client: S3Client, bucket: string): Promise<void> {
  await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
}

export async function objectKeys(client: S3Client, bucket: string, prefix = ''): Promise<string[]> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!).sort();
}

export async function pendingUploads(client: S3Client, bucket: string): Promise<string[]> {
  const out = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (out.Uploads ?? []).map((u) => u.Key!);
}

/** Size and sha256 of an object, computed from its bytes as S3 returns them. */
export async function objectDigest(
  client: S3Client,
  bucket: string,
  key: string,
): Promise<{ size: number; sha256: string }> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of out.Body as Readable) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  if (size !== head.ContentLength) throw new Error(`HEAD says ${head.ContentLength} bytes, GET gave ${size}`);
  return { size, sha256: hash.digest('hex') };
}
