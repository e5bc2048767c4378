import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/storage/backend.js';
import { S3Backend } from '../../src/storage/s3.js';
import { freePort } from '../cluster/ports.js';
import { clusterContext } from './support/cluster-context.js';
import { adminS3, createBucket, objectDigest, objectKeys, pendingUploads } from './support/s3.js';

const BUCKET = 'backend-tests';

/** count bytes of random data in 1 MiB chunks, failing after failAfter bytes if given. */
function source(count: number, failAfter?: number): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  const stream = new Readable({
    read() {
      if (failAfter !== undefined && sent >= failAfter) {
        this.destroy(new Error('the kubelet archive vanished'));
        return;
      }
      if (sent >= count) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(1 << 20, count - sent));
      sent += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex') };
}

describe('S3 backend against a real S3 server (MinIO)', () => {
  const { s3 } = clusterContext();
  const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
  let admin: S3Client;
  const backends: S3Backend[] = [];
  const backend = (over: Partial<ConstructorParameters<typeof S3Backend>[0]> = {}) => {
    const b = new S3Backend({ endpoint: s3.endpoint, bucket: BUCKET, forcePathStyle: true, credentials, ...over });
    backends.push(b);
    return b;
  };

  beforeAll(async () => {
    admin = adminS3(s3);
    await createBucket(admin, BUCKET);
  });
  afterAll(() => {
    for (const b of backends) b.destroy();
    admin?.destroy();
  });

  it('streams a multipart archive under the exact prefix and records the size and sha256 S3 holds', async () => {
    const data = source(21 * 1024 * 1024 + 17); // three parts, the last one short
    const stored = await backend({ prefix: 'my-app/' }).put('ns/ckpt/uid/archive.tar', data.stream);
    expect(stored.key).toBe('ns/ckpt/uid/archive.tar');
    expect(stored.uri).toBe(`s3://${BUCKET}/my-app/ns/ckpt/uid/archive.tar`);
    expect(stored.sizeBytes).toBe(21 * 1024 * 1024 + 17);
    expect(stored.sha256).toBe(data.sha256());
    expect(await objectDigest(admin, BUCKET, 'my-app/ns/ckpt/uid/archive.tar')).toEqual({
      size: stored.sizeBytes,
      sha256: stored.sha256,
    });
  });

  it('uses the prefix exactly as written, with or without a trailing slash', async () => {
    await backend({ prefix: 'flat-' }).put('a/b.tar', source(1000).stream);
    expect(await objectKeys(admin, BUCKET, 'flat-')).toEqual(['flat-a/b.tar']);
  });

  it('lists, reads back and deletes; deleting what is gone succeeds', async () => {
    const b = backend({ prefix: 'cycle/' });
    const data = source(3000);
    await b.put('x/one.tar', data.stream);
    const listed = [];
    for await (const a of b.list('x/')) listed.push(a);
    expect(listed.map((a) => [a.key, a.sizeBytes])).toEqual([['x/one.tar', 3000]]);
    const back = createHash('sha256');
    for await (const chunk of await b.get('x/one.tar')) back.update(chunk as Buffer);
    expect(back.digest('hex')).toBe(data.sha256());
    await b.delete('x/one.tar');
    expect(await b.stat('x/one.tar')).toBeUndefined();
    await expect(b.delete('x/one.tar')).resolves.toBeUndefined();
  });

  it('leaves neither an object nor a pending multipart upload when the source fails mid-way', async () => {
    const b = backend({ prefix: 'broken/' });
    await expect(b.put('half.tar', source(40 * 1024 * 1024, 20 * 1024 * 1024).stream)).rejects.toThrow(/vanished/);
    expect(await objectKeys(admin, BUCKET, 'broken/')).toEqual([]);
    expect(await pendingUploads(admin, BUCKET)).not.toContain('broken/half.tar');
  });

  it('reports wrong credentials, a missing bucket and an unreachable endpoint by reason', async () => {
    const wrong = backend({ credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: 'not-the-secret' } });
    const denied = await wrong.put('k.tar', source(100).stream).catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(BackendError);
    expect((denied as BackendError).reason).toBe('StorageAccessDenied');
    expect((denied as BackendError).message).not.toContain('not-the-secret');

    const missing = await backend({ bucket: 'no-such-bucket' })
      .put('k.tar', source(100).stream)
      .catch((e: unknown) => e);
    expect((missing as BackendError).reason).toBe('BucketNotFound');

    const nowhere = await backend({ endpoint: `http://127.0.0.1:${await freePort()}` })
      .put('k.tar', source(100).stream)
      .catch((e: unknown) => e);
    expect((nowhere as BackendError).reason).toBe('StorageUnreachable');
  });

  it('asks the server to encrypt archives at rest when serverSideEncryption is set', async () => {
    await backend({ prefix: 'sse/', serverSideEncryption: { type: 'AES256' } }).put(
      'a.tar',
      source(6 * 1024 * 1024).stream,
    );
    const head = await admin.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'sse/a.tar' }));
    expect(head.ServerSideEncryption).toBe('AES256');
    await backend({ prefix: 'sse/' }).put('b.tar', source(1000).stream);
    expect(
      (await admin.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'sse/b.tar' }))).ServerSideEncryption,
    ).toBeUndefined();
  });

  it('refuses keys that would escape the prefix', async () => {
    await expect(backend().put('../escape.tar', source(10).stream)).rejects.toThrow(/unsafe archive key/);
    await expect(backend().delete('a//b')).rejects.toThrow(/unsafe archive key/);
  });
});
