import { Transform, type TransformCallback } from 'node:stream';
import { extract, type Extract } from 'tar-stream';

/** What a checkpoint archive says about the container it came from. */
export interface ArchiveMetadata {
  containerName?: string;
  containerId?: string;
  image?: string;
  imageRef?: string;
  runtime?: string;
  createdAt?: string;
  checkpointedAt?: string;
  podName?: string;
  podNamespace?: string;
}

const SMALL_FILE_LIMIT = 1024 * 1024;
const WANTED = new Set(['config.dump', 'spec.dump']);

/**
 * Passes archive bytes through unchanged while reading `config.dump` and `spec.dump` from the tar
 * stream, so metadata costs no second read of a possibly huge archive. Backpressure is shared:
 * the tar parser is fed before each chunk moves on.
 */
export class ArchiveMetadataTap extends Transform {
  private readonly tar: Extract = extract();
  private readonly files = new Map<string, Buffer>();
  private parseError: Error | undefined;
  private haveAll = false;
  private readonly parsed: Promise<void>;

  constructor() {
    super();
    this.tar.on('entry', (header, stream, next) => {
      const name = header.name.replace(/^\.\//, '');
      if (WANTED.has(name) && header.type === 'file' && (header.size ?? 0) <= SMALL_FILE_LIMIT) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: unknown) => chunks.push(c as Buffer));
        stream.on('end', () => {
          this.files.set(name, Buffer.concat(chunks));
          // Both files are at the front of a runtime's archive: stop parsing there, and the
          // rest (the memory pages) passes through untouched, at no parsing cost.
          if ([...WANTED].every((w) => this.files.has(w))) this.haveAll = true;
          next();
        });
      } else {
        stream.on('end', next);
        stream.resume();
      }
    });
    this.parsed = new Promise((resolve) => {
      this.tar.on('finish', () => resolve());
      this.tar.on('error', (err: Error) => {
        if (!this.haveAll) this.parseError = err;
        resolve();
      });
    });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.parseError || this.haveAll) return done(null, chunk);
    if (this.tar.write(chunk)) return done(null, chunk);
    // A parser that fails while full never drains: the bytes must flow on all the same.
    const release = () => {
      this.tar.off('drain', release);
      this.tar.off('error', release);
      done(null, chunk);
    };
    this.tar.once('drain', release);
    this.tar.once('error', release);
  }

  override _flush(done: TransformCallback): void {
    // A parser left mid-archive on purpose is dropped, not ended (ending it is a truncated tar).
    if (this.haveAll) (this.tar as unknown as { destroy(): void }).destroy();
    else (this.tar as unknown as { end(): void }).end(); // streamx's end() takes no chunk here
    done();
  }

  /** Resolves after the stream ended; rejects when the bytes were not a checkpoint archive. */
  async metadata(): Promise<ArchiveMetadata> {
    if (!this.haveAll) await this.parsed;
    if (this.parseError) throw new Error(`not a tar archive: ${this.parseError.message}`);
    const config = this.json('config.dump');
    if (!config) throw new Error('the archive has no config.dump: not a container checkpoint');
    const spec = this.json('spec.dump');
    const annotations = (spec?.annotations ?? {}) as Record<string, string>;
    const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : undefined);
    // CRI-O annotates the spec with io.kubernetes.*, containerd with io.kubernetes.cri.*.
    // containerd's own name for the container comes before its annotation: a container that
    // containerd 2.3 restored from a checkpoint image carries io.kubernetes.cri.container-name
    // "containerd" in its spec, so a checkpoint of a restored container would name the wrong
    // container, while its config name is always right.
    const meta: ArchiveMetadata = {
      containerName:
        str(annotations['io.kubernetes.container.name']) ??
        containerdContainerName(config.name) ??
        str(annotations['io.kubernetes.cri.container-name']) ??
        str(config.name),
      containerId: str(config.id),
      image:
        str(config.rootfsImageName) ??
        str(config.rootfsImage) ??
        str(annotations['io.kubernetes.cri-o.ImageName']) ??
        str(annotations['io.kubernetes.cri.image-name']),
      imageRef: str(config.rootfsImageRef),
      runtime: str(config.runtime) ?? str(config.ociRuntime),
      createdAt: str(config.createdTime),
      checkpointedAt: str(config.checkpointedTime),
      podName: str(annotations['io.kubernetes.pod.name']) ?? str(annotations['io.kubernetes.cri.sandbox-name']),
      podNamespace:
        str(annotations['io.kubernetes.pod.namespace']) ?? str(annotations['io.kubernetes.cri.sandbox-namespace']),
    };
    return Object.fromEntries(Object.entries(meta).filter(([, v]) => v !== undefined)) as ArchiveMetadata;
  }

  private json(name: string): Record<string, unknown> | undefined {
    const buf = this.files.get(name);
    if (!buf) return undefined;
    try {
      const v = JSON.parse(buf.toString('utf8'));
      return typeof v === 'object' && v !== null ? v : undefined;
    } catch {
      throw new Error(`${name} in the archive is not valid JSON`);
    }
  }
}

/**
 * The container in containerd's name for a Kubernetes container,
 * <container>_<pod>_<namespace>_<pod uid>_<attempt>. None of the parts can hold "_" (DNS names, a
 * UID, a number), so a name of five such parts is that form and nothing else.
 */
export function containerdContainerName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const parts = name.split('_');
  if (parts.length !== 5 || parts.some((p) => p.length === 0) || !/^\d+$/.test(parts[4]!)) return undefined;
  return parts[0];
}
