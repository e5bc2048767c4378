import { type Clock, systemClock } from '../clock/clock.js';

export type ReconcileOutcome =
  | { kind: 'done' }
  /** Look again after a delay, without counting it as a failure (polling a Job, a deadline). */
  | { kind: 'requeueAfter'; ms: number };

export interface WorkQueueOptions {
  concurrency: number;
  /** First retry delay after a failure; doubles per consecutive failure of the same key. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  clock?: Clock;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

/**
 * A level-based work queue in the manner of client-go's: a key is queued at most once, never
 * processed by two workers at once (an add during processing marks it dirty and it runs again
 * after), failures back off exponentially per key, and at most `concurrency` keys run together.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; cancel: () => void }>();
  private readonly clock: Clock;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private running = 0;
  private stopped = true;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly handler: (key: string) => Promise<ReconcileOutcome>,
    private readonly options: WorkQueueOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.baseBackoffMs = options.baseBackoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
  }

  start(): void {
    this.stopped = false;
    this.pump();
  }

  /** Stops taking new keys; keys being processed finish. Queued keys are kept for a restart. */
  stop(): void {
    this.stopped = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
  }

  add(key: string): void {
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Adds the key after ms, unless an earlier delayed add for it is already due sooner. */
  addAfter(key: string, ms: number): void {
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.clock.after(ms, () => {
      this.delayed.delete(key);
      this.add(key);
    });
    this.delayed.set(key, { at, cancel });
  }

  get depth(): number {
    return this.queue.length;
  }

  get active(): number {
    return this.running;
  }

  /** Resolves when nothing is queued or running (delayed keys do not count). */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.running < this.options.concurrency && this.queue.length > 0) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.processing.add(key);
      this.running++;
      void this.process(key);
    }
    if (this.queue.length === 0 && this.running === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async process(key: string): Promise<void> {
    try {
      const outcome = await this.handler(key);
      this.failures.delete(key);
      if (outcome.kind === 'requeueAfter') this.addAfter(key, outcome.ms);
    } catch (err) {
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const delay = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** (n - 1));
      this.options.onError?.(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.running--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
