import type { Readable } from 'node:stream';

export interface StoredArchive {
  key: string;
  uri: string;
  sizeBytes: number;
  sha256: string;
}

export interface ListedArchive {
  key: string;
  sizeBytes: number;
  lastModified: Date;
}

/**
 * Where archives live. Every backend streams (an archive can be larger than a Job's memory), and
 * `put` is all-or-nothing: until it resolves, nothing under `key` looks like a complete archive.
 */
export interface ArchiveBackend {
  /** Stores the stream under key, hashing on the way; expectedBytes (when known) lets a backend size its buffers. */
  put(key: string, body: Readable, expectedBytes?: number): Promise<StoredArchive>;
  /** How large the reads of a local file feeding put() should be; 64 KiB when unset. */
  readonly readSizeBytes?: number;
  get(key: string): Promise<Readable>;
  stat(key: string): Promise<{ sizeBytes: number } | undefined>;
  /** Deleting what is already gone succeeds. */
  delete(key: string): Promise<void>;
  /** Complete archives only: what an interrupted write left behind is not listed. */
  list(prefix: string): AsyncIterable<ListedArchive>;
  uri(key: string): string;
  /**
   * Removes what interrupted writes left under prefix, where the backend can see it (the
   * filesystem's hidden temporary files); returns how many were removed. Only for a prefix nothing
   * writes to any more, such as a deleted Checkpoint's: a write in progress there would fail.
   */
  removeIncomplete?(prefix: string): Promise<number>;
}

/** A key is relative, slash-separated, with no empty, `.` or `..` segment. */
export function assertSafeKey(key: string): void {
  const segments = key.split('/');
  if (
    key.length === 0 ||
    key.length > 1024 ||
    segments.some((s) => s === '' || s === '.' || s === '..') ||
    key.includes('\0')
  ) {
    throw new Error(`unsafe archive key: ${JSON.stringify(key)}`);
  }
}

/** A backend failure with a Checkpoint reason (StorageAccessDenied, BucketNotFound, ...). */
export class BackendError extends Error {
  constructor(
    readonly reason: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
