import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';

export interface ArchiveContents {
  podName: string;
  namespace: string;
  podUid: string;
  containerName: string;
  containerId: string;
  image: string;
  imageRef: string;
  memoryBytes: number;
  createdAt: Date;
  checkpointedAt: Date;
}

const CHUNK = 1024 * 1024;

/**
 * Writes a checkpoint archive shaped like CRI-O's: config.dump and spec.dump describing the
 * container, the CRIU images under checkpoint/ (pages-1.img holding `memoryBytes` of memory), a
 * rootfs diff and the dump log. Streamed to a 0600 file, so a 1 GiB archive costs no memory.
 * Like the runtime, a second checkpoint within the same second overwrites the first (the
 * kubelet names archives by the second).
 */
export async function writeCheckpointArchive(path: string, c: ArchiveContents): Promise<{ sizeBytes: number; sha256: string }> {
  const tar = pack();
  const config = {
    id: c.containerId,
    name: c.containerName,
    rootfsImage: c.image,
    rootfsImageRef: c.imageRef,
    rootfsImageName: c.image,
    runtime: 'runc',
    createdTime: c.createdAt.toISOString(),
    checkpointedTime: c.checkpointedAt.toISOString(),
    restoredTime: '0001-01-01T00:00:00Z',
    restored: false,
  };
  const spec = {
    ociVersion: '1.2.0',
    process: { args: ['/app'], cwd: '/', env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    root: { path: `/var/lib/containers/storage/overlay/${c.containerId}/merged` },
    annotations: {
      'io.kubernetes.pod.name': c.podName,
      'io.kubernetes.pod.namespace': c.namespace,
      'io.kubernetes.pod.uid': c.podUid,
      'io.kubernetes.container.name': c.containerName,
      'io.kubernetes.cri-o.ContainerID': c.containerId,
      'io.kubernetes.cri-o.ImageName': c.image,
      'io.kubernetes.cri-o.ImageRef': c.imageRef,
      'io.kubernetes.cri-o.Created': c.createdAt.toISOString(),
    },
  };
  const small: [string, string | Buffer][] = [
    ['config.dump', JSON.stringify(config, null, 2)],
    ['spec.dump', JSON.stringify(spec, null, 2)],
    ['dump.log', `(00.000000) Dumping processes (pid: 4242)\n(00.${String(c.memoryBytes % 1e6).padStart(6, '0')}) Dumping finished successfully\n`],
    ['stats-dump', Buffer.from(JSON.stringify({ freezing_time: 1200, frozen_time: 35000, memdump_time: 20000, pages_written: Math.ceil(c.memoryBytes / 4096) }))],
    ['checkpoint/inventory.img', randomBytes(64)],
    ['checkpoint/core-1.img', randomBytes(2048)],
    ['checkpoint/mm-1.img', randomBytes(1024)],
    ['checkpoint/pagemap-1.img', randomBytes(512)],
    ['rootfs-diff.tar', Buffer.alloc(1024)],
  ];
  const counter = new ByteCounter();
  const writing = pipeline(tar, (source: AsyncIterable<unknown>) => counter.count(source as AsyncIterable<Buffer>), createWriteStream(path, { mode: 0o600, flags: 'w' }));
  for (const [name, body] of small.slice(0, 8)) tar.entry({ name, mode: 0o600 }, body);
  await writePages(tar, c.memoryBytes);
  tar.entry({ name: small[8]![0], mode: 0o600 }, small[8]![1]);
  tar.finalize();
  await writing;
  return { sizeBytes: counter.size, sha256: counter.hash.digest('hex') };
}

class ByteCounter {
  readonly hash = createHash('sha256');
  size = 0;
  async *count(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    for await (const chunk of source) {
      this.hash.update(chunk);
      this.size += chunk.length;
      yield chunk;
    }
  }
}

/** Memory pages: one random block, stamped with its offset so no two chunks are equal. */
function writePages(tar: ReturnType<typeof pack>, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const entry = tar.entry({ name: 'checkpoint/pages-1.img', size, mode: 0o600 }, (err) => (err ? reject(err) : resolve()));
    entry.on('error', reject);
    const block = randomBytes(CHUNK);
    let written = 0;
    const writeMore = () => {
      while (written < size) {
        const n = Math.min(CHUNK, size - written);
        const chunk = Buffer.from(block.subarray(0, n));
        if (n >= 8) chunk.writeBigUInt64LE(BigInt(written), 0);
        written += n;
        if (!entry.write(chunk)) {
          entry.once('drain', writeMore);
          return;
        }
      }
      (entry as unknown as { end(): void }).end();
    };
    writeMore();
  });
}
