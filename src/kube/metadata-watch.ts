import type { KubeConfig, V1ObjectMeta, Watch } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../clock/clock.js';
import type { Logger } from '../observability/logger.js';
import { getJson } from './raw-get.js';
import { watchWithTimeout, withAcceptHeader } from './watch-internals.js';

/** Asks the API server for metadata only: no spec or status crosses the wire. */
const PARTIAL_METADATA = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const PARTIAL_METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
const PAGE_SIZE = 500;
const WATCH_SECONDS = 300;

export type MetadataEvent = 'add' | 'update' | 'delete';

/**
 * Follows pod metadata without caching it: a list (in pages) then a watch from its
 * resourceVersion, restarted from the last version seen, relisting on 410 Gone. Every object is
 * handed to `onObject` and forgotten, so memory does not grow with the cluster; the handler
 * keeps what little it needs. client-node's informer caches whole objects, hence this.
 */
export class PodMetadataWatch {
  private resourceVersion: string | undefined;
  private stopped = false;
  private synced = false;
  private syncWaiters: (() => void)[] = [];
  private abort: (() => void) | undefined;
  private retryDelayMs = 0;
  private cancelRetry: (() => void) | undefined;
  private readonly clock: Clock;
  private readonly watch: Watch;

  constructor(
    private readonly opts: {
      kubeConfig: KubeConfig;
      namespace: string | undefined;
      onObject: (meta: V1ObjectMeta, kind: MetadataEvent) => void;
      log: Logger;
      clock?: Clock;
    },
  ) {
    this.clock = opts.clock ?? systemClock;
    const kc = opts.kubeConfig;
    // The server ends each watch after WATCH_SECONDS; quiet namespaces must not look like failures.
    this.watch = watchWithTimeout(withAcceptHeader(kc, PARTIAL_METADATA), (WATCH_SECONDS + 60) * 1000);
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  start(): Promise<void> {
    this.stopped = false;
    void this.cycle();
    return this.synced ? Promise.resolve() : new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    this.cancelRetry?.();
    this.abort?.();
  }

  private async cycle(): Promise<void> {
    try {
      if (!this.resourceVersion) await this.list();
      await this.follow();
      this.retryDelayMs = 0;
    } catch (err) {
      // 410 from a list page or a watch: the version we hold is too old to continue from.
      if ((err as { gone?: boolean }).gone || (err as { statusCode?: number }).statusCode === 410)
        this.resourceVersion = undefined;
      else this.retryDelayMs = Math.min(30_000, Math.max(500, this.retryDelayMs * 2));
      if (!this.stopped && this.retryDelayMs > 0) {
        this.opts.log.warn(
          { err: String((err as Error)?.message ?? err), retryInMs: this.retryDelayMs },
          'pod metadata watch failed; restarting',
        );
      }
    }
    if (this.stopped) return;
    this.cancelRetry = this.clock.after(this.retryDelayMs, () => {
      this.cancelRetry = undefined;
      void this.cycle();
    });
  }

  private async list(): Promise<void> {
    let cont: string | undefined;
    let version: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(cont ? { continue: cont } : {}) });
      const page = await this.get<{
        items?: { metadata?: V1ObjectMeta }[];
        metadata?: { continue?: string; resourceVersion?: string };
      }>(`${this.path}?${query}`);
      for (const item of page.items ?? []) if (item.metadata) this.emit(item.metadata, 'add');
      cont = page.metadata?.continue || undefined;
      version = page.metadata?.resourceVersion;
    } while (cont);
    this.resourceVersion = version;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /** One list page as metadata; the generated client cannot read PartialObjectMetadataList. */
  private get<T>(path: string): Promise<T> {
    return getJson<T>(this.opts.kubeConfig, path, PARTIAL_METADATA_LIST);
  }

  private get path(): string {
    return this.opts.namespace ? `/api/v1/namespaces/${this.opts.namespace}/pods` : '/api/v1/pods';
  }

  private follow(): Promise<void> {
    return new Promise((resolve, reject) => {
      let gone = false;
      void this.watch
        .watch(
          this.path,
          { resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: WATCH_SECONDS },
          (type: string, obj: { metadata?: V1ObjectMeta; code?: number }) => {
            if (type === 'ERROR') {
              if (obj.code === 410) gone = true;
              return;
            }
            const meta = obj.metadata;
            if (meta?.resourceVersion) this.resourceVersion = meta.resourceVersion;
            if (type === 'BOOKMARK' || !meta) return;
            this.emit(meta, type === 'ADDED' ? 'add' : type === 'DELETED' ? 'delete' : 'update');
          },
          (err: unknown) => {
            this.abort = undefined;
            if (gone) reject(Object.assign(new Error('resourceVersion too old'), { gone: true }));
            else if (err) reject(err);
            else resolve();
          },
        )
        .then((req: { abort(): void }) => {
          this.abort = () => req.abort();
        }, reject);
    });
  }

  private emit(meta: V1ObjectMeta, kind: MetadataEvent): void {
    try {
      this.opts.onObject(meta, kind);
    } catch (err) {
      this.opts.log.error({ err: String(err) }, 'pod metadata handler threw');
    }
  }
}
