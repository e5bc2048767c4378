import { createHash } from 'node:crypto';
import { RegistryError } from './registry-error.js';

/**
 * Counts and hashes a blob's bytes as they go by, and refuses a byte past the expected size, so
 * an oversized source is never sent on to its end.
 */
export class BlobVerifier {
  private readonly hash = createHash('sha256');
  bytes = 0;

  constructor(readonly expected: { digest: string; size: number }) {}

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.expected.size) {
      throw new RegistryError(
        'SizeMismatch',
        `blob ${this.expected.digest} is larger than the expected ${this.expected.size} bytes`,
      );
    }
    this.hash.update(chunk);
  }

  /** Throws SizeMismatch or ChecksumMismatch unless exactly the expected bytes went by; call once, at the end. */
  verify(): void {
    if (this.bytes !== this.expected.size) {
      throw new RegistryError(
        'SizeMismatch',
        `blob ${this.expected.digest}: ${this.bytes} bytes, ${this.expected.size} expected`,
      );
    }
    const actual = `sha256:${this.hash.digest('hex')}`;
    if (actual !== this.expected.digest) {
      throw new RegistryError(
        'ChecksumMismatch',
        `blob content has digest ${actual}, ${this.expected.digest} expected`,
      );
    }
  }
}
