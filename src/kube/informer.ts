import { type KubeConfig, type KubernetesListObject, type KubernetesObject, ListWatch, Watch } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../clock/clock.js';
import type { Logger } from '../observability/logger.js';

export type ChangeKind = 'add' | 'update' | 'delete';

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Watch path, e.g. /apis/batch/v1/namespaces/x/jobs */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  labelSelector?: string;
  log: Logger;
  clock?: Clock;
}

/**
 * A list-watch cache that survives errors. client-node's ListWatch stops on the first error
 * (an expired token, the API server restarting, etcd unavailable); this restarts it with a
 * capped backoff and a fresh list, so the caches converge again without restarting the process.
 */
export class ResilientInformer<T extends KubernetesObject> {
  private readonly listWatch: ListWatch<T>;
  private readonly handlers: ((obj: T, kind: ChangeKind) => void)[] = [];
  private readonly clock: Clock;
  private restartDelayMs = 0;
  private stopped = false;
  private syncedOnce = false;
  private syncWaiters: (() => void)[] = [];
  private cancelRestart: (() => void) | undefined;

  constructor(private readonly options: InformerOptions<T>) {
    this.clock = options.clock ?? systemClock;
    this.listWatch = new ListWatch<T>(options.path, new Watch(options.kubeConfig), options.list, false, options.labelSelector);
    this.listWatch.on('add', (o) => this.emit(o, 'add'));
    this.listWatch.on('update', (o) => this.emit(o, 'update'));
    this.listWatch.on('delete', (o) => this.emit(o, 'delete'));
    this.listWatch.on('connect', () => { this.restartDelayMs = 0; });
    this.listWatch.on('error', (err) => this.onError(err));
  }

  onChange(handler: (obj: T, kind: ChangeKind) => void): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; resolves once the first list has landed in the cache. */
  start(): Promise<void> {
    this.stopped = false;
    void this.run();
    return this.waitForSync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.cancelRestart?.();
    await this.listWatch.stop();
  }

  get hasSynced(): boolean {
    return this.syncedOnce;
  }

  waitForSync(): Promise<void> {
    if (this.syncedOnce) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(name: string, namespace?: string): T | undefined {
    return this.listWatch.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.listWatch.list(namespace);
  }

  private async run(): Promise<void> {
    let failed = false;
    const onErr = () => { failed = true; };
    this.listWatch.on('error', onErr);
    try {
      await this.listWatch.start();
    } catch (err) {
      failed = true;
      this.onError(err);
    } finally {
      this.listWatch.off('error', onErr);
    }
    if (!failed && !this.syncedOnce) {
      this.syncedOnce = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private onError(err: unknown): void {
    if (this.stopped) return;
    this.restartDelayMs = Math.min(30_000, Math.max(500, this.restartDelayMs * 2));
    this.options.log.warn({ path: this.options.path, err: String((err as Error)?.message ?? err), retryInMs: this.restartDelayMs },
      'watch failed; restarting with a fresh list');
    this.cancelRestart?.();
    this.cancelRestart = this.clock.after(this.restartDelayMs, () => {
      this.cancelRestart = undefined;
      if (!this.stopped) void this.run();
    });
  }

  private emit(obj: T, kind: ChangeKind): void {
    for (const h of this.handlers) {
      try {
        h(obj, kind);
      } catch (err) {
        this.options.log.error({ err: String(err) }, 'informer handler threw');
      }
    }
  }
}
