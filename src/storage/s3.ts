import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NotFound,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type ArchiveBackend, assertSafeKey, BackendError, type ListedArchive, type StoredArchive } from './backend.js';
import { classifyS3Error } from './s3-errors.js';
import { type UploadedObject, uploadStream } from './s3-multipart.js';

export interface S3Settings {
  endpoint?: string | undefined;
  bucket: string;
  prefix?: string | undefined;
  region?: string | undefined;
  forcePathStyle?: boolean | undefined;
  insecure?: boolean | undefined;
  caBundle?: Buffer | undefined;
  serverSideEncryption?: { type: 'AES256' | 'aws:kms'; kmsKeyId?: string | undefined } | undefined;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined } | undefined;
  /** Tuning (defaults below): part size and parts in flight. */
  partSizeBytes?: number;
  queueSize?: number;
}

/**
 * Parts of 5 MiB (S3's minimum), 4 in flight: 25 MiB of part buffers whatever the archive's
 * size, which keeps a checkpoint Job's whole RSS within its memory limit. 10,000 parts (S3's
 * maximum) of 5 MiB bound an archive at 48 GiB; larger archives use bigger parts (see partSizeFor).
 */
export const S3_PART_SIZE = 5 * 1024 * 1024;
export const S3_CONCURRENCY = 4;
/**
 * Connections per backend: enough for the retention sweep's deletes (16 in flight, see
 * actions/sweep/run.ts) plus a spare; an upload opens only as many as it has parts in flight, since
 * connections are made on demand. With fewer, the sweep's requests queue for a free socket.
 */
const MAX_SOCKETS = 18;
const MAX_PARTS = 10_000;

/** The smallest part size (a MiB multiple, at least S3_PART_SIZE) that fits the archive in S3's part limit, with room to spare. */
export function partSizeFor(expectedBytes: number | undefined): number {
  if (!expectedBytes) return S3_PART_SIZE;
  const needed = Math.ceil(expectedBytes / (MAX_PARTS * 0.9));
  return Math.max(S3_PART_SIZE, Math.ceil(needed / 2 ** 20) * 2 ** 20);
}

/** `s3.example.com` as users write it means https; an explicit scheme is kept. */
export function endpointUrl(endpoint: string): string {
  return /^https?:\/\//.test(endpoint) ? endpoint.replace(/\/+$/, '') : `https://${endpoint.replace(/\/+$/, '')}`;
}

/**
 * Archives in an S3 bucket under an exact prefix. Uploads stream as multipart with bounded
 * memory, each part checksummed (SHA-256) by the server where it supports it, while the whole
 * archive's SHA-256 is computed on the way. A failed upload is aborted, so no partial object is
 * ever left under the key; a finished one is checked with HEAD before it is reported stored.
 */
export class S3Backend implements ArchiveBackend {
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly s: S3Settings) {
    this.prefix = s.prefix ?? '';
    const config: S3ClientConfig = {
      region: s.region ?? 'us-east-1',
      forcePathStyle: s.forcePathStyle ?? false,
      maxAttempts: 5,
      ...(s.endpoint ? { endpoint: endpointUrl(s.endpoint) } : {}),
      ...(s.credentials ? { credentials: s.credentials } : {}),
    };
    // Without timeouts a server that stops answering would hold the Job until its deadline.
    config.requestHandler = new NodeHttpHandler({
      connectionTimeout: 10_000,
      requestTimeout: 60_000,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
      httpsAgent: new HttpsAgent({
        keepAlive: true,
        maxSockets: MAX_SOCKETS,
        ...(s.caBundle ? { ca: s.caBundle } : {}),
        rejectUnauthorized: !s.insecure,
      }),
    });
    this.client = new S3Client(config);
  }

  uri(key: string): string {
    return `s3://${this.s.bucket}/${this.prefix}${key}`;
  }

  async put(key: string, body: Readable, expectedBytes?: number): Promise<StoredArchive> {
    assertSafeKey(key);
    // A failure of the input (the kubelet's file) is reported as itself, not as a storage error.
    let inputFailure: unknown;
    // (Not the AbortError the stream gets when the upload fails and stops reading it.)
    body.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ABORT_ERR') inputFailure ??= e;
    });
    await this.checkBucket();
    const sse = this.s.serverSideEncryption;
    let uploaded: UploadedObject;
    try {
      uploaded = await uploadStream(body, {
        client: this.client,
        bucket: this.s.bucket,
        key: this.prefix + key,
        object: {
          ContentType: 'application/x-tar',
          ...(sse ? { ServerSideEncryption: sse.type, ...(sse.kmsKeyId ? { SSEKMSKeyId: sse.kmsKeyId } : {}) } : {}),
        },
        partSizeBytes: this.s.partSizeBytes ?? partSizeFor(expectedBytes),
        concurrency: this.s.queueSize ?? S3_CONCURRENCY,
      });
      if (inputFailure) throw inputFailure;
    } catch (err) {
      body.destroy();
      // The input may have failed after the last part went up: never keep an object for it.
      await this.delete(key).catch(() => undefined);
      throw inputFailure ?? this.wrap(err, key);
    }
    const head = await this.stat(key);
    if (head?.sizeBytes !== uploaded.sizeBytes) {
      await this.delete(key).catch(() => undefined);
      throw new BackendError(
        'StorageVerifyFailed',
        `S3 holds ${head?.sizeBytes ?? 'no'} bytes for ${this.uri(key)} after writing ${uploaded.sizeBytes}`,
      );
    }
    return { key, uri: this.uri(key), sizeBytes: uploaded.sizeBytes, sha256: uploaded.sha256 };
  }

  /**
   * A bodiless request first: a missing bucket or refused credentials are then reported as such,
   * rather than as whatever a server that answers mid-body and hangs up leaves the client with.
   */
  private async checkBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.s.bucket }));
    } catch (err) {
      if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) {
        throw new BackendError(
          'BucketNotFound',
          `bucket ${this.s.bucket} does not exist at ${this.s.endpoint ?? 'AWS S3'}`,
          { cause: err },
        );
      }
      throw this.wrap(err, '');
    }
  }

  async get(key: string): Promise<Readable> {
    assertSafeKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.s.bucket, Key: this.prefix + key }));
      return out.Body as Readable;
    } catch (err) {
      throw this.wrap(err, key);
    }
  }

  private wrap(err: unknown, key: string): BackendError {
    if (err instanceof BackendError) return err;
    const failure = classifyS3Error(err, this.uri(key));
    return new BackendError(failure.reason, failure.message, { cause: err });
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    assertSafeKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.s.bucket, Key: this.prefix + key }));
      return { sizeBytes: out.ContentLength ?? 0 };
    } catch (err) {
      if (
        err instanceof NotFound ||
        (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404
      )
        return undefined;
      throw this.wrap(err, key);
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.s.bucket, Key: this.prefix + key }));
    } catch (err) {
      throw this.wrap(err, key);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedArchive> {
    let token: string | undefined;
    do {
      // Wrapped like every other request, so a caller sees StorageUnreachable, not an SDK error.
      const page = await this.client
        .send(
          new ListObjectsV2Command({
            Bucket: this.s.bucket,
            Prefix: this.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        )
        .catch((err: unknown) => {
          throw this.wrap(err, prefix);
        });
      for (const o of page.Contents ?? []) {
        if (!o.Key?.startsWith(this.prefix)) continue;
        yield {
          key: o.Key.slice(this.prefix.length),
          sizeBytes: o.Size ?? 0,
          lastModified: o.LastModified ?? new Date(0),
        };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  destroy(): void {
    this.client.destroy();
  }
}
