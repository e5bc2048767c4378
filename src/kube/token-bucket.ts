import type { Clock } from '../clock/clock.js';

/**
 * Client-side request rate limit, as client-go's (KUBE_API_QPS, KUBE_API_BURST): up to `burst`
 * requests at once, then `qps` per second on average. Callers wait their turn in order, so a
 * burst of reconciles never floods the API server however many Checkpoints arrive.
 */
export class TokenBucket {
  private tokens: number;
  private refilledAt: number;
  private readonly waiting: (() => void)[] = [];
  private timer: (() => void) | undefined;

  constructor(
    private readonly qps: number,
    private readonly burst: number,
    private readonly clock: Clock,
  ) {
    this.tokens = burst;
    this.refilledAt = clock.now();
  }

  /** Resolves once the caller may send one request. */
  take(): Promise<void> {
    this.refill();
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.refilledAt) / 1000) * this.qps);
    this.refilledAt = now;
  }

  private schedule(): void {
    if (this.timer) return;
    const waitMs = Math.max(0, Math.ceil(((1 - this.tokens) / this.qps) * 1000));
    this.timer = this.clock.after(waitMs, () => {
      this.timer = undefined;
      this.refill();
      while (this.waiting.length > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiting.shift()!();
      }
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
