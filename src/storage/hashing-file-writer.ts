import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Chunks written or hashed but not both yet, at most: what the writer holds beyond its input. */
const MAX_PENDING_CHUNKS = 8;
/**
 * Written bytes after which an fdatasync is started in the background, so the disk writes the
 * file while the rest is still being copied rather than all at the final fsync (and dirty pages
 * do not pile up on the node while a large archive is copied).
 */
const SYNC_EVERY_BYTES = 64 * 1024 * 1024;

/**
 * Writes a stream to a new file (created exclusively, 0600) while computing its SHA-256, and
 * fsyncs it before it finishes. The file is closed when 'finish' is emitted.
 *
 * Each chunk's write is started at its own offset (several can be in flight), and its hash is
 * computed once the current turn is over: by then the next read of the input is already on its
 * way, so reading, hashing and writing overlap instead of taking turns. Chunks are hashed in
 * order (setImmediate callbacks run first in, first out). The chunks handed in must not be
 * modified afterwards (file read streams and the archive tap allocate a buffer per chunk).
 */
export class HashingFileWriter extends Writable {
  private readonly hash = createHash('sha256');
  private handle: FileHandle | undefined;
  private position = 0;
  private pending = 0;
  /** The callback of the write that found MAX_PENDING_CHUNKS pending, called once one is done. */
  private blocked: ((err?: Error | null) => void) | undefined;
  private failure: Error | undefined;
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Bytes hashed (and written, once the stream has finished). */
  bytes = 0;

  constructor(private readonly path: string) {
    super();
  }

  /** Hex digest; call once the stream has finished. */
  digest(): string {
    return this.hash.digest('hex');
  }

  override _construct(done: (err?: Error | null) => void): void {
    open(this.path, 'wx', 0o600).then((handle) => {
      this.handle = handle;
      done();
    }, done);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.failure) return done(this.failure);
    const at = this.position;
    this.position += chunk.length;
    this.pending++;
    let parts = 2;
    const partDone = () => {
      if (--parts === 0) this.chunkDone();
    };
    this.handle!.write(chunk, 0, chunk.length, at)
      .then(
        () => {
          this.unsynced += chunk.length;
          if (this.unsynced >= SYNC_EVERY_BYTES && !this.syncing) {
            this.unsynced = 0;
            this.syncing = this.handle!.datasync()
              .catch((err: Error) => {
                this.failure ??= err;
              })
              .finally(() => {
                this.syncing = undefined;
                this.checkIdle();
              });
          }
        },
        (err: Error) => {
          this.failure ??= err;
        },
      )
      .finally(partDone);
    setImmediate(() => {
      this.hash.update(chunk);
      this.bytes += chunk.length;
      partDone();
    });
    if (this.pending < MAX_PENDING_CHUNKS) done();
    else this.blocked = done;
  }

  override _final(done: (err?: Error | null) => void): void {
    this.idle()
      .then(async () => {
        if (this.failure) throw this.failure;
        const handle = this.handle!;
        this.handle = undefined;
        try {
          // Data and size on disk before the caller's rename publishes the file.
          await handle.sync();
        } finally {
          await handle.close();
        }
      })
      .then(() => done(), done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    // Once what is in flight has settled: then nothing writes to the file after the caller
    // removes it. (close() also waits for operations pending on the handle.)
    this.idle()
      .then(() => handle?.close())
      .then(
        () => done(err),
        (closeErr: Error) => done(err ?? closeErr),
      );
  }

  private chunkDone(): void {
    this.pending--;
    if (this.blocked && (this.pending < MAX_PENDING_CHUNKS || this.failure)) {
      const resume = this.blocked;
      this.blocked = undefined;
      resume(this.failure);
    }
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.pending === 0 && !this.syncing) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  private idle(): Promise<void> {
    if (this.pending === 0 && !this.syncing) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
    });
  }
}
