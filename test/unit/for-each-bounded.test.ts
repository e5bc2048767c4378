import { describe, expect, it } from 'vitest';
import { forEachBounded } from '../../src/actions/sweep/for-each-bounded.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('forEachBounded', () => {
  it('calls fn on every item with at most limit calls in flight', async () => {
    let inFlight = 0;
    let peak = 0;
    const done: number[] = [];
    await forEachBounded(
      Array.from({ length: 50 }, (_, i) => i),
      4,
      async (i) => {
        peak = Math.max(peak, ++inFlight);
        await tick();
        inFlight--;
        done.push(i);
      },
    );
    expect(peak).toBe(4);
    expect(done.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('starts nothing after a failure, lets the calls in flight finish, and throws the first error', async () => {
    const started: number[] = [];
    let finished = 0;
    const run = forEachBounded(
      Array.from({ length: 100 }, (_, i) => i),
      3,
      async (i) => {
        started.push(i);
        await tick();
        if (i === 4) throw new Error('item 4 failed');
        if (i === 5) throw new Error('item 5 failed');
        finished++;
      },
    );
    await expect(run).rejects.toThrow('item 4 failed');
    expect(started.length).toBeLessThan(10);
    expect(finished).toBe(started.length - 2);
  });

  it('does nothing for no items', async () => {
    await forEachBounded([], 16, async () => {
      throw new Error('never called');
    });
  });
});
