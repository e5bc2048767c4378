import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Pack } from 'tar-stream';

/** One thing in a layer, at an absolute path of the image's filesystem. */
export type LayerEntry =
  | { type: 'dir'; path: string; mode?: number; uid?: number; gid?: number }
  /** A file copied from this machine (`source`), or given as bytes (`content`). */
  | { type: 'file'; path: string; mode: number; source: string; uid?: number; gid?: number }
  | { type: 'file'; path: string; mode: number; content: Buffer | string; uid?: number; gid?: number }
  | { type: 'symlink'; path: string; target: string };

export const LAYER_MEDIA_TYPE = {
  gzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  tar: 'application/vnd.oci.image.layer.v1.tar',
} as const;

export interface BuiltLayer {
  /** Where the layer's bytes are (as stored in a registry: compressed when gzip). */
  file: string;
  mediaType: string;
  /** sha256 of the stored bytes. */
  digest: string;
  size: number;
  /** sha256 of the uncompressed tar: what an image config lists in rootfs.diff_ids. */
  diffId: string;
}

/**
 * Writes a layer tarball from entries. The bytes depend on the entries alone: paths sorted,
 * parent directories added, every time zero and every owner root unless given, so the same
 * inputs give the same digest and a registry that has the layer is not sent it again.
 */
export async function buildLayer(
  entries: LayerEntry[],
  out: string,
  opts: { gzip?: boolean } = {},
): Promise<BuiltLayer> {
  const gzip = opts.gzip ?? true;
  const ordered = withParents(entries);
  const tar = pack();
  const tarHash = createHash('sha256');
  const storedHash = createHash('sha256');
  let size = 0;
  const stages = [
    tar,
    tee(tarHash),
    ...(gzip ? [createGzip({ level: 6 })] : []),
    tee(storedHash, (n) => (size += n)),
    createWriteStream(out, { mode: 0o600 }),
  ];
  const written = pipeline(stages as unknown as [NodeJS.ReadableStream, ...NodeJS.WritableStream[]]);
  await Promise.all([written, writeEntries(tar, ordered)]);
  return {
    file: out,
    mediaType: gzip ? LAYER_MEDIA_TYPE.gzip : LAYER_MEDIA_TYPE.tar,
    digest: `sha256:${storedHash.digest('hex')}`,
    size,
    diffId: `sha256:${tarHash.digest('hex')}`,
  };
}

async function writeEntries(tar: Pack, entries: LayerEntry[]): Promise<void> {
  const mtime = new Date(0);
  try {
    for (const e of entries) {
      const name = e.path.replace(/^\/+/, '');
      if (e.type === 'dir') {
        await add(tar, { name, type: 'directory', mode: e.mode ?? 0o755, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime });
      } else if (e.type === 'symlink') {
        await add(tar, { name, type: 'symlink', linkname: e.target, mode: 0o777, uid: 0, gid: 0, mtime });
      } else if ('content' in e) {
        const content = Buffer.from(e.content);
        await add(
          tar,
          { name, type: 'file', mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime, size: content.length },
          content,
        );
      } else {
        const { size } = await stat(e.source);
        const sink = tar.entry({ name, type: 'file', mode: e.mode, uid: e.uid ?? 0, gid: e.gid ?? 0, mtime, size });
        await pipeline(createReadStream(e.source), sink);
      }
    }
    tar.finalize();
  } catch (err) {
    tar.destroy(err as Error);
    throw err;
  }
}

function add(tar: Pack, header: Parameters<Pack['entry']>[0], content: Buffer = Buffer.alloc(0)): Promise<void> {
  return new Promise((resolve, reject) => {
    tar.entry(header, content, (err) => (err ? reject(err) : resolve()));
  });
}

/** Entries sorted by path, with every missing parent directory added (0755, root). */
function withParents(entries: LayerEntry[]): LayerEntry[] {
  const byPath = new Map<string, LayerEntry>();
  for (const e of entries) {
    const path = posix.normalize(`/${e.path}`);
    byPath.set(path, { ...e, path });
    for (let dir = posix.dirname(path); dir !== '/'; dir = posix.dirname(dir)) {
      if (!byPath.has(dir)) byPath.set(dir, { type: 'dir', path: dir });
    }
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Hashes (and counts) what passes through. */
function tee(hash: ReturnType<typeof createHash>, count?: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, done: TransformCallback) {
      hash.update(chunk);
      count?.(chunk.length);
      done(null, chunk);
    },
  });
}
