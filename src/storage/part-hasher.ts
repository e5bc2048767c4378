import { Worker } from 'node:worker_threads';

/*
 * Runs in a worker thread: the SHA-256 of each part (its S3 checksum) and of the whole archive,
 * over part buffers shared with the uploading thread, so hashing never competes with the
 * upload for the event loop.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const whole = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.type === 'part') {
    const bytes = Buffer.from(m.buffer, 0, m.length);
    whole.update(bytes);
    parentPort.postMessage({ id: m.id, sha256: createHash('sha256').update(bytes).digest('base64') });
  } else {
    parentPort.postMessage({ id: m.id, sha256: whole.digest('hex') });
  }
});
`;

/**
 * Hashes parts in the order they are given, off the main thread. Part buffers must be backed by
 * a SharedArrayBuffer (see `sharedBuffer`) and left untouched until `part` resolves.
 */
export class PartHasher {
  // The thread allocates almost nothing (a digest string per part): a small heap keeps it cheap.
  private readonly worker = new Worker(WORKER_SOURCE, {
    eval: true,
    resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 },
  });
  private readonly waiting = new Map<number, { resolve: (v: string) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failed: Error | undefined;

  constructor() {
    this.worker.on('message', (m: { id: number; sha256: string }) => {
      this.waiting.get(m.id)?.resolve(m.sha256);
      this.waiting.delete(m.id);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', () => this.fail(new Error('the hashing thread stopped')));
  }

  /** The part's SHA-256 (base64, as S3 checksums are written); also folds it into the whole. */
  part(buffer: Buffer, length: number): Promise<string> {
    if (!(buffer.buffer instanceof SharedArrayBuffer) || buffer.byteOffset !== 0)
      throw new Error('part buffers must be whole SharedArrayBuffers');
    return this.ask({ type: 'part', buffer: buffer.buffer, length });
  }

  /** The whole stream's SHA-256 (hex), once every part has been given. */
  digest(): Promise<string> {
    return this.ask({ type: 'digest' });
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }

  private ask(message: object): Promise<string> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ ...message, id });
    });
  }

  private fail(err: Error): void {
    this.failed ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }
}

export function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}
