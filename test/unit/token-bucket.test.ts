import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { TokenBucket } from '../../src/kube/token-bucket.js';

const flush = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};

describe('TokenBucket', () => {
  it('lets a burst through at once, then qps per second, in order', async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(10, 5, clock);
    const granted: number[] = [];
    for (let i = 0; i < 25; i++) void bucket.take().then(() => granted.push(i));
    await flush();
    expect(granted).toEqual([0, 1, 2, 3, 4]);
    for (let t = 0; t < 1000; t += 100) {
      clock.advance(100);
      await flush();
    }
    // 10 more in the next second, in the order asked.
    expect(granted).toEqual(Array.from({ length: 15 }, (_, i) => i));
    for (let t = 0; t < 1000; t += 100) {
      clock.advance(100);
      await flush();
    }
    expect(granted).toHaveLength(25);
  });

  it('refills up to the burst while idle, never beyond', async () => {
    const clock = new ManualClock(0);
    const bucket = new TokenBucket(100, 3, clock);
    clock.advance(60_000);
    const granted: number[] = [];
    for (let i = 0; i < 5; i++) void bucket.take().then(() => granted.push(i));
    await flush();
    expect(granted).toEqual([0, 1, 2]);
    clock.advance(20);
    await flush();
    expect(granted).toEqual([0, 1, 2, 3, 4]);
  });
});
