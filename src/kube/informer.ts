import type { KubeConfig, KubernetesObject, Watch } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../clock/clock.js';
import type { Logger } from '../observability/logger.js';
import { type CacheTransform, withoutManagedFields } from './cache-transform.js';
import { type Change, type ChangeKind, ObjectStore } from './object-store.js';
import { DEFAULT_PAGE_SIZE, isGone, type ListPage, listInPages } from './paged-list.js';
import { getJson } from './raw-get.js';
import { watchWithTimeout } from './watch-internals.js';

export type { ChangeKind } from './object-store.js';

/** The server ends each watch after this; it is then resumed from the last resourceVersion. */
const WATCH_SECONDS = 300;
/** No byte for this long (bookmarks arrive about every minute) means a dead connection. */
const WATCH_INACTIVITY_MS = (WATCH_SECONDS + 60) * 1000;
const MAX_RETRY_DELAY_MS = 30_000;
/** A watch that ends cleanly sooner than this, having delivered nothing, counts as a failure. */
const SHORTEST_QUIET_WATCH_MS = 1_000;

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Collection path, e.g. /apis/batch/v1/namespaces/x/jobs */
  path: string;
  labelSelector?: string;
  /** Applied to every listed and watched object before it is cached; default: drop managedFields. */
  transform?: CacheTransform<T>;
  log: Logger;
  clock?: Clock;
  pageSize?: number;
}

/**
 * A list-watch cache that survives errors, in the manner of client-go's reflector:
 * - lists in pages, each transformed (see CacheTransform) before the next is fetched, so neither
 *   the cache nor the list's peak holds whole objects: client-node's ListWatch keeps every
 *   object whole and parses each list in one piece, hundreds of MiB at ten thousand objects;
 * - watches from the list's resourceVersion, with bookmarks (so a quiet collection's version
 *   stays fresh), resuming from the last version seen when the server ends a watch;
 * - relists at once on 410 Gone (the version is older than the server keeps), and after any
 *   other failure (an expired token, the API server restarting, etcd unavailable) with a capped
 *   backoff, so the cache converges again without restarting the process.
 * Handlers see what ListWatch reported: adds, updates (a new resourceVersion only), deletes.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly store = new ObjectStore<T>();
  private readonly handlers: ((obj: T, kind: ChangeKind) => void)[] = [];
  private readonly clock: Clock;
  private readonly transform: CacheTransform<T>;
  private readonly watch: Watch;
  /** Where the watch resumes; undefined: list first. */
  private resourceVersion: string | undefined;
  private retryDelayMs = 0;
  private running = false;
  private stopped = false;
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];
  private cancelRetry: (() => void) | undefined;
  private abortWatch: (() => void) | undefined;

  constructor(private readonly options: InformerOptions<T>) {
    this.clock = options.clock ?? systemClock;
    this.transform = options.transform ?? withoutManagedFields;
    this.watch = watchWithTimeout(options.kubeConfig, WATCH_INACTIVITY_MS);
  }

  onChange(handler: (obj: T, kind: ChangeKind) => void): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; resolves once the first list has landed in the cache. */
  start(): Promise<void> {
    this.stopped = false;
    if (!this.running) {
      this.running = true;
      void this.cycle();
    }
    return this.waitForSync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.cancelRetry) {
      // Between two cycles: nothing is running that would notice the stop.
      this.cancelRetry();
      this.cancelRetry = undefined;
      this.running = false;
    }
    this.abortWatch?.();
    this.abortWatch = undefined;
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  waitForSync(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.store.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.store.list(namespace);
  }

  /** One list (if needed) and one watch, then the next cycle is scheduled. */
  private async cycle(): Promise<void> {
    if (this.stopped) {
      this.running = false;
      return;
    }
    let delayMs = 0;
    try {
      if (this.resourceVersion === undefined) await this.relist();
      if (this.stopped) {
        this.running = false;
        return;
      }
      const started = this.clock.now();
      const delivered = await this.follow();
      if (delivered || this.clock.now() - started >= SHORTEST_QUIET_WATCH_MS) this.retryDelayMs = 0;
      else delayMs = this.backOff();
    } catch (err) {
      this.resourceVersion = undefined;
      if (!isGone(err)) {
        delayMs = this.backOff();
        if (!this.stopped) {
          this.options.log.warn(
            { path: this.options.path, err: String((err as Error)?.message ?? err), retryInMs: delayMs },
            'watch failed; restarting with a fresh list',
          );
        }
      }
    }
    if (this.stopped) {
      this.running = false;
      return;
    }
    this.cancelRetry = this.clock.after(delayMs, () => {
      this.cancelRetry = undefined;
      void this.cycle();
    });
  }

  private backOff(): number {
    this.retryDelayMs = Math.min(MAX_RETRY_DELAY_MS, Math.max(500, this.retryDelayMs * 2));
    return this.retryDelayMs;
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await listInPages<T, T>(
      (page) => getJson<ListPage<T>>(this.options.kubeConfig, `${this.options.path}?${this.query(page)}`),
      this.transform,
      this.options.pageSize ?? DEFAULT_PAGE_SIZE,
    );
    if (this.stopped) return;
    for (const change of this.store.replace(items)) this.emit(change);
    this.resourceVersion = resourceVersion;
    this.retryDelayMs = 0;
    if (!this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private query(extra: Record<string, string | number>): URLSearchParams {
    const query = new URLSearchParams();
    if (this.options.labelSelector) query.set('labelSelector', this.options.labelSelector);
    for (const [k, v] of Object.entries(extra)) query.set(k, String(v));
    return query;
  }

  /**
   * Follows the watch until it ends. Resolves (with whether any event came) when the server
   * ended it or it went quiet; rejects on failure, with statusCode 410 when the version is gone.
   */
  private follow(): Promise<boolean> {
    return new Promise((resolve, reject) => {
      let delivered = false;
      let failure: unknown;
      const query: Record<string, string | number | boolean> = {
        resourceVersion: this.resourceVersion ?? '',
        allowWatchBookmarks: true,
        timeoutSeconds: WATCH_SECONDS,
      };
      if (this.options.labelSelector) query.labelSelector = this.options.labelSelector;
      const onEvent = (type: string, obj: T & { code?: number; message?: string }) => {
        if (type === 'ERROR') {
          // A Status object; the server closes the watch after it.
          failure = Object.assign(new Error(`watch: ${obj.message ?? 'error'}`), { statusCode: obj.code });
          return;
        }
        delivered = true;
        this.retryDelayMs = 0;
        const version = obj.metadata?.resourceVersion;
        if (version) this.resourceVersion = version;
        let change: Change<T> | undefined;
        if (type === 'ADDED' || type === 'MODIFIED') change = this.store.upsert(this.transform(obj));
        else if (type === 'DELETED') change = this.store.delete(this.transform(obj));
        if (change) this.emit(change);
      };
      const onDone = (err: unknown) => {
        this.abortWatch = undefined;
        if (this.stopped) resolve(delivered);
        else if (failure) reject(failure);
        // The connection went quiet for longer than bookmarks allow: reconnect from where it was.
        else if ((err as Error | null)?.name === 'TimeoutError') resolve(delivered);
        else if (err) reject(err);
        else resolve(delivered);
      };
      this.watch.watch(this.options.path, query, onEvent, onDone).then((controller: AbortController) => {
        if (this.stopped) controller.abort();
        else this.abortWatch = () => controller.abort();
      }, reject);
    });
  }

  private emit(change: Change<T>): void {
    for (const h of this.handlers) {
      try {
        h(change.obj, change.kind);
      } catch (err) {
        this.options.log.error({ err: String(err) }, 'informer handler threw');
      }
    }
  }
}
