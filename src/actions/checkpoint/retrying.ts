import type { Clock } from '../../clock/clock.js';
import { BackendError } from '../../storage/backend.js';
import { KubeletError } from '../../kubelet/checkpoint-client.js';

/**
 * How long a Job keeps asking a kubelet that could not act on the request yet: long enough for
 * an API server restart or a brief etcd outage, which the kubelet needs to check every request's
 * credentials.
 */
export const KUBELET_RETRY_MS = 90_000;

/**
 * How long a Job keeps trying to store an archive in storage that cannot be reached: a restart
 * of the S3 server or a network blip should not fail a checkpoint; an outage longer than this
 * does, with its reason, while the kubelet's archive is still on the node to be removed.
 */
export const STORAGE_RETRY_MS = 30_000;

/** A kubelet answer that came before the runtime was asked (see KubeletError.retryable). */
export const kubeletCouldNotActYet = (err: unknown): err is KubeletError =>
  err instanceof KubeletError && err.retryable;

/**
 * Storage that did not answer, or answered that it cannot serve now (restarting, throttling);
 * anything else it answered (denied, no bucket, TLS) is final.
 */
export const storageMayRecover = (err: unknown): err is BackendError =>
  err instanceof BackendError &&
  (err.reason === 'StorageUnreachable' || err.reason === 'StorageUnavailable' || err.reason === 'StorageTimeout');

/**
 * Runs attempt until it succeeds, fails with an error retryable() refuses, or the budget would be
 * spent by the next wait; then the last error is thrown. Waits double from 0.5 s to 8 s, on the
 * given clock.
 */
export async function retrying<T>(
  attempt: () => Promise<T>,
  opts: {
    retryable: (err: unknown) => boolean;
    clock: Clock;
    budgetMs: number;
    onRetry: (err: unknown, waitMs: number) => void;
  },
): Promise<T> {
  const giveUpAt = opts.clock.now() + opts.budgetMs;
  for (let delay = 500; ; delay = Math.min(delay * 2, 8_000)) {
    try {
      return await attempt();
    } catch (err) {
      if (!opts.retryable(err) || opts.clock.now() + delay > giveUpAt) throw err;
      opts.onRetry(err, delay);
      await waitKeepingAlive(opts.clock, delay);
    }
  }
}

/**
 * The clock's timers do not keep a process alive (the dispatcher's must not hold it open at
 * shutdown); a Job waiting to try again has nothing else pending, so it holds the event loop
 * open itself until the wait is over.
 */
function waitKeepingAlive(clock: Clock, ms: number): Promise<void> {
  const keepAlive = setInterval(() => undefined, 60_000);
  return new Promise<void>((resolve) =>
    clock.after(ms, () => {
      clearInterval(keepAlive);
      resolve();
    }),
  );
}
