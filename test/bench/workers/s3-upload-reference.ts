import { open } from 'node:fs/promises';
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { S3_CONCURRENCY, S3_PART_SIZE } from '../../../src/storage/s3.js';
import { reportAndExit, workerArgs } from './worker-args.js';

/**
 * The reference: the same bytes through a plain multipart loop with the same SDK, part size and
 * concurrency, and nothing else (no hashing, no tar parsing, no checksums, no verification).
 */
const PART = S3_PART_SIZE;
const CONCURRENCY = S3_CONCURRENCY;
const a = workerArgs();
const client = new S3Client({
  endpoint: a.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: a.credentials,
});
const started = performance.now();
const file = await open(a.file);
const size = (await file.stat()).size;
const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: a.bucket, Key: a.key }));
const parts: { PartNumber: number; ETag: string }[] = [];
let next = 0;
async function lane(): Promise<void> {
  for (;;) {
    const index = next++;
    const offset = index * PART;
    if (offset >= size) return;
    const body = Buffer.allocUnsafe(Math.min(PART, size - offset));
    await file.read(body, 0, body.length, offset);
    const out = await client.send(
      new UploadPartCommand({ Bucket: a.bucket, Key: a.key, UploadId, PartNumber: index + 1, Body: body }),
    );
    parts.push({ PartNumber: index + 1, ETag: out.ETag! });
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, lane));
parts.sort((x, y) => x.PartNumber - y.PartNumber);
await client.send(
  new CompleteMultipartUploadCommand({ Bucket: a.bucket, Key: a.key, UploadId, MultipartUpload: { Parts: parts } }),
);
await file.close();
reportAndExit(performance.now() - started, size);
