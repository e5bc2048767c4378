import { describe, expect, it } from 'vitest';
import { BackendError } from '../../src/storage/backend.js';
import { S3Backend } from '../../src/storage/s3.js';

/** An S3Backend whose requests go to `send` instead of the network. */
function backendAnswering(send: (command: { input: Record<string, unknown> }) => Promise<unknown>): S3Backend {
  const backend = new S3Backend({
    endpoint: 'http://127.0.0.1:9',
    bucket: 'archives',
    prefix: 'ckpt/',
    credentials: { accessKeyId: 'a', secretAccessKey: 's' },
  });
  (backend as unknown as { client: { send: typeof send } }).client.send = send;
  return backend;
}

async function keys(backend: S3Backend, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of backend.list(prefix)) out.push(o.key);
  return out;
}

describe('S3Backend.list', () => {
  it('pages through the listing under its prefix and gives keys without it', async () => {
    const seen: unknown[] = [];
    const backend = backendAnswering(async ({ input }) => {
      seen.push(input);
      return input.ContinuationToken
        ? { Contents: [{ Key: 'ckpt/ns/c/u/b.tar', Size: 2 }], IsTruncated: false }
        : { Contents: [{ Key: 'ckpt/ns/c/u/a.tar', Size: 1 }], IsTruncated: true, NextContinuationToken: 't1' };
    });
    expect(await keys(backend, 'ns/c/u/')).toEqual(['ns/c/u/a.tar', 'ns/c/u/b.tar']);
    expect(seen).toMatchObject([{ Bucket: 'archives', Prefix: 'ckpt/ns/c/u/' }, { ContinuationToken: 't1' }]);
  });

  it('reports a failure with a reason, like every other request', async () => {
    const backend = backendAnswering(() =>
      Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })),
    );
    const err = await keys(backend, 'ns/c/u/').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect(err).toMatchObject({ reason: 'StorageUnreachable' });
    const denied = backendAnswering(() =>
      Promise.reject(
        Object.assign(new Error('Access Denied'), { name: 'AccessDenied', $metadata: { httpStatusCode: 403 } }),
      ),
    );
    await expect(keys(denied, '')).rejects.toMatchObject({ reason: 'StorageAccessDenied' });
  });
});
