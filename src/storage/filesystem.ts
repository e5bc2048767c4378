import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type ArchiveBackend, assertSafeKey, type ListedArchive, type StoredArchive } from './backend.js';
import { HashingPassThrough } from './hashing.js';

const PARTIAL = '.partial-';

/**
 * Archives as files under a directory: the node directory of the `local` backend, or the mounted
 * claim of the `pvc` backend. Files are 0600 and directories 0700 (archives hold process memory);
 * a write goes to a hidden temporary name, is fsynced, then renamed, so a crash never leaves a
 * truncated file under the final name.
 */
export class FilesystemBackend implements ArchiveBackend {
  private readonly root: string;

  constructor(root: string, private readonly uriBase: string) {
    this.root = resolve(root);
  }

  uri(key: string): string {
    return `${this.uriBase.replace(/\/+$/, '')}/${key}`;
  }

  async put(key: string, body: Readable): Promise<StoredArchive> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    const partial = join(dirname(path), `.${key.split('/').pop()}${PARTIAL}${randomBytes(4).toString('hex')}`);
    const hashing = new HashingPassThrough();
    try {
      // flush: fsync before close, so the rename below never publishes unwritten bytes.
      await pipeline(body, hashing, createWriteStream(partial, { flags: 'wx', mode: 0o600, flush: true }));
      await rename(partial, path);
      await syncDirectory(dirname(path));
    } catch (err) {
      await rm(partial, { force: true });
      throw err;
    }
    return { key, uri: this.uri(key), sizeBytes: hashing.bytes, sha256: hashing.digest() };
  }

  async get(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    await stat(path);
    return createReadStream(path);
  }

  async stat(key: string): Promise<{ sizeBytes: number } | undefined> {
    try {
      const s = await stat(this.pathOf(key));
      return s.isFile() ? { sizeBytes: s.size } : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    await rm(path, { force: true });
    await this.pruneEmptyParents(dirname(path));
  }

  /**
   * A Job killed mid-write never reaches its own clean-up, and leaves a hidden temporary file
   * holding part of an archive (process memory) that list() does not show.
   */
  async removeIncomplete(prefix: string): Promise<number> {
    const start = prefix === '' ? this.root : this.pathOf(prefix.replace(/\/+$/, ''));
    const dirs = new Set<string>();
    let removed = 0;
    for await (const path of walk(start, true)) {
      if (!basename(path).includes(PARTIAL)) continue;
      await rm(path, { force: true });
      dirs.add(dirname(path));
      removed++;
    }
    for (const dir of dirs) await this.pruneEmptyParents(dir);
    return removed;
  }

  /**
   * Removes directories the last archive left empty, up to (never including) the root, so
   * deleted Checkpoints leave no trail of `<namespace>/<name>/<uid>` directories. It stops at the
   * first directory that is not empty; a concurrent write re-creates what it needs (mkdir -p).
   * Best effort: a directory that stays behind is untidy, not a failure of the delete.
   */
  private async pruneEmptyParents(dir: string): Promise<void> {
    for (let d = dir; d.startsWith(this.root + sep); d = dirname(d)) {
      try {
        await rmdir(d);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return;
      }
    }
  }

  async *list(prefix: string): AsyncIterable<ListedArchive> {
    const start = prefix === '' ? this.root : this.pathOf(prefix.replace(/\/+$/, ''));
    for await (const path of walk(start)) {
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) continue;
      yield { key: relative(this.root, path).split(sep).join('/'), sizeBytes: s.size, lastModified: s.mtime };
    }
  }

  /** Resolves a key inside the root, refusing anything that would land outside it. */
  private pathOf(key: string): string {
    assertSafeKey(key);
    const path = resolve(this.root, key);
    if (!path.startsWith(this.root + sep)) throw new Error(`archive key escapes the storage root: ${key}`);
    return path;
  }
}

/** Files under dir, depth first; temporary files of writes in progress only when asked for. */
async function* walk(dir: string, withPartial = false): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const e of entries) {
    if (!withPartial && e.name.includes(PARTIAL)) continue;
    const path = join(dir, e.name);
    if (e.isDirectory()) yield* walk(path, withPartial);
    else if (e.isFile()) yield path;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
