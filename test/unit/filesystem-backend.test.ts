import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archiveKey, ownerOfKey } from '../../src/storage/archive-key.js';
import { FilesystemBackend } from '../../src/storage/filesystem.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'fs-backend-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const key = 'team-a/c1/uid-1/checkpoint-web-0_team-a-app-20261125T030000Z.tar';

describe('FilesystemBackend', () => {
  it('stores bytes with their size and sha256, as 0600 files in 0700 directories', async () => {
    const backend = new FilesystemBackend(root, 'local://node-a/var/lib/checkpoint-operator');
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const stored = await backend.put(key, Readable.from([data.subarray(0, 1000), data.subarray(1000)]));
    expect(stored).toEqual({
      key,
      uri: `local://node-a/var/lib/checkpoint-operator/${key}`,
      sizeBytes: data.length,
      sha256: createHash('sha256').update(data).digest('hex'),
    });
    expect((await readFile(join(root, key))).equals(data)).toBe(true);
    expect((await stat(join(root, key))).mode & 0o777).toBe(0o600);
    expect((await stat(join(root, 'team-a'))).mode & 0o777).toBe(0o700);
    expect(await backend.stat(key)).toEqual({ sizeBytes: data.length });
    const chunks: Buffer[] = [];
    for await (const c of await backend.get(key)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('keeps chunk order with several writes and hashes in flight, whatever the chunk sizes', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    const data = randomBytes(9 * 1024 * 1024 + 5);
    const chunks: Buffer[] = [];
    for (let at = 0, i = 0; at < data.length; i++) {
      const size = [1, 4096, 300_000, 65_536, 7][i % 5]!;
      chunks.push(data.subarray(at, at + size));
      at += size;
    }
    const stored = await backend.put(key, Readable.from(chunks));
    expect(stored.sizeBytes).toBe(data.length);
    expect(stored.sha256).toBe(createHash('sha256').update(data).digest('hex'));
    expect((await readFile(join(root, key))).equals(data)).toBe(true);
    expect(await readdir(join(root, 'team-a/c1/uid-1'))).toEqual([key.split('/').pop()]);
  });

  it('leaves nothing behind when the stream fails mid-way', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    async function* failing() {
      yield Buffer.alloc(1024);
      throw new Error('kubelet connection reset');
    }
    await expect(backend.put(key, Readable.from(failing()))).rejects.toThrow('kubelet connection reset');
    expect(await backend.stat(key)).toBeUndefined();
    expect(await readdir(join(root, 'team-a/c1/uid-1'))).toEqual([]);
  });

  it('lists keys under a prefix and deletes idempotently', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    const other = 'team-b/c2/uid-2/checkpoint-x_team-b-app-20261125T030000Z.tar';
    await backend.put(key, Readable.from([Buffer.from('a')]));
    await backend.put(other, Readable.from([Buffer.from('bb')]));
    const all = [];
    for await (const o of backend.list('')) all.push(o.key);
    expect(all.sort()).toEqual([key, other].sort());
    const teamA = [];
    for await (const o of backend.list('team-a/')) teamA.push(o);
    expect(teamA.map((o) => [o.key, o.sizeBytes])).toEqual([[key, 1]]);
    await backend.delete(key);
    await backend.delete(key);
    expect(await backend.stat(key)).toBeUndefined();
  });

  it('removes the directories a deleted archive leaves empty, never the root or a neighbour', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    const sibling = 'team-a/c2/uid-2/checkpoint-x_team-a-app-20261125T030000Z.tar';
    await backend.put(key, Readable.from([Buffer.from('a')]));
    await backend.put(sibling, Readable.from([Buffer.from('b')]));
    await backend.delete(key);
    expect(await readdir(join(root, 'team-a'))).toEqual(['c2']);
    await backend.delete(sibling);
    expect(await readdir(root)).toEqual([]);
  });

  it('hides the temporary files of interrupted writes from list, and removes them on request', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    await backend.put(key, Readable.from([Buffer.from('a')]));
    await writeFile(join(root, 'team-a/c1/uid-1/.checkpoint-y.tar.partial-00ff00ff'), 'half');
    await mkdir(join(root, 'team-b/c9/uid-9'), { recursive: true });
    await writeFile(join(root, 'team-b/c9/uid-9/.checkpoint-z.tar.partial-00ff00ff'), 'other');
    const listed = [];
    for await (const o of backend.list('team-a/c1/uid-1/')) listed.push(o.key);
    expect(listed).toEqual([key]);
    expect(await backend.removeIncomplete('team-a/c1/uid-1/')).toBe(1);
    expect(await readdir(join(root, 'team-a/c1/uid-1'))).toEqual([key.split('/').pop()]);
    expect(await readdir(join(root, 'team-b/c9/uid-9'))).toHaveLength(1);
    await backend.delete(key);
    expect(await readdir(root)).toEqual(['team-b']);
    expect(await backend.removeIncomplete('team-c/none/uid/')).toBe(0);
  });

  it('lists every archive of many directories, never through a symbolic link', async () => {
    const backend = new FilesystemBackend(root, 'pvc://claim');
    const keys = Array.from({ length: 50 }, (_, i) =>
      archiveKey({
        checkpoint: { namespace: `ns-${i % 3}`, name: `c${i}`, uid: `uid-${i}` },
        target: { namespace: `ns-${i % 3}`, podName: 'web-0', containerName: 'app' },
        time: new Date('2026-11-25T03:00:00Z'),
      }),
    );
    for (const k of keys) await backend.put(k, Readable.from([Buffer.from(k)]));
    const outside = await mkdtemp(join(tmpdir(), 'fs-backend-outside-'));
    try {
      await mkdir(join(outside, 'x/y'), { recursive: true });
      await writeFile(join(outside, 'x/y/z.tar'), 'not ours');
      await symlink(outside, join(root, 'ns-0/elsewhere'));
      await symlink('..', join(root, 'ns-1/loop'));
      const listed = [];
      for await (const o of backend.list('')) listed.push(o);
      expect(listed.map((o) => o.key).sort()).toEqual([...keys].sort());
      expect(listed.every((o) => o.sizeBytes === o.key.length)).toBe(true);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
    // 50 archives, each written with an fsync: seconds when the disk is shared with a busy cluster.
  }, 30_000);

  it.each(['../escape.tar', 'a/../../b.tar', '/abs/path.tar', 'a//b.tar', './a.tar', ''])(
    'refuses the key %j',
    async (bad) => {
      const backend = new FilesystemBackend(root, 'pvc://claim');
      await expect(backend.put(bad, Readable.from([Buffer.from('x')]))).rejects.toThrow(/unsafe archive key|escapes/);
      await expect(backend.delete(bad)).rejects.toThrow(/unsafe archive key|escapes/);
    },
  );
});

describe('archive keys', () => {
  it('follow the documented layout and name their owner', () => {
    const k = archiveKey({
      checkpoint: { namespace: 'default', name: 'my-app-checkpoint', uid: '0f1e' },
      target: { namespace: 'default', podName: 'my-app-pod-0', containerName: 'main' },
      time: new Date('2026-11-25T03:04:05.678Z'),
    });
    expect(k).toBe('default/my-app-checkpoint/0f1e/checkpoint-my-app-pod-0_default-main-20261125T030405Z.tar');
    expect(ownerOfKey(k)).toEqual({ namespace: 'default', name: 'my-app-checkpoint', uid: '0f1e' });
    expect(ownerOfKey('stray.tar')).toBeUndefined();
  });
});
