import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { type ReconcileOutcome, WorkQueue } from '../../src/kube/work-queue.js';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
const flush = () => new Promise((r) => setImmediate(r));

describe('WorkQueue', () => {
  it('processes each queued key once, however often it was added', async () => {
    const seen: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        seen.push(k);
        return { kind: 'done' };
      },
      { concurrency: 1 },
    );
    q.add('a');
    q.add('a');
    q.add('b');
    q.add('a');
    q.start();
    await q.whenIdle();
    expect(seen).toEqual(['a', 'b']);
  });

  it('never runs one key twice at once, and runs it again if it changed meanwhile', async () => {
    const gate = deferred();
    let running = 0,
      maxRunning = 0,
      calls = 0;
    const q = new WorkQueue(
      async () => {
        running++;
        calls++;
        maxRunning = Math.max(maxRunning, running);
        if (calls === 1) await gate.promise;
        running--;
        return { kind: 'done' };
      },
      { concurrency: 4 },
    );
    q.start();
    q.add('a');
    await flush();
    q.add('a');
    q.add('a');
    await flush();
    expect(calls).toBe(1);
    gate.resolve();
    await q.whenIdle();
    expect(calls).toBe(2);
    expect(maxRunning).toBe(1);
  });

  it('bounds concurrency across keys', async () => {
    const gates = new Map<string, ReturnType<typeof deferred>>();
    let running = 0,
      maxRunning = 0;
    const q = new WorkQueue(
      async (k) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        const g = deferred();
        gates.set(k, g);
        await g.promise;
        running--;
        return { kind: 'done' };
      },
      { concurrency: 2 },
    );
    q.start();
    for (const k of ['a', 'b', 'c', 'd', 'e']) q.add(k);
    await flush();
    expect(running).toBe(2);
    expect(q.depth).toBe(3);
    while (gates.size > 0) {
      for (const [k, g] of gates) {
        gates.delete(k);
        g.resolve();
      }
      await flush();
      await flush();
    }
    await q.whenIdle();
    expect(maxRunning).toBe(2);
  });

  it('backs off exponentially on failure and resets after success', async () => {
    const clock = new ManualClock();
    let failuresLeft = 3;
    const times: number[] = [];
    const delays: number[] = [];
    const q = new WorkQueue(
      async () => {
        times.push(clock.now());
        if (failuresLeft-- > 0) throw new Error('conflict');
        return { kind: 'done' };
      },
      { concurrency: 1, baseBackoffMs: 100, maxBackoffMs: 1000, clock, onError: (_k, _e, d) => delays.push(d) },
    );
    q.start();
    q.add('a');
    await q.whenIdle();
    for (const step of [100, 200, 400]) {
      clock.advance(step);
      await q.whenIdle();
    }
    expect(times).toEqual([0, 100, 300, 700]);
    expect(delays).toEqual([100, 200, 400]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('caps the backoff', async () => {
    const clock = new ManualClock();
    const delays: number[] = [];
    const q = new WorkQueue(
      async () => {
        throw new Error('down');
      },
      { concurrency: 1, baseBackoffMs: 100, maxBackoffMs: 250, clock, onError: (_k, _e, d) => delays.push(d) },
    );
    q.start();
    q.add('a');
    await q.whenIdle();
    for (let i = 0; i < 3; i++) {
      clock.advance(250);
      await q.whenIdle();
    }
    expect(delays).toEqual([100, 200, 250, 250]);
  });

  it('requeues after the delay a reconcile asks for', async () => {
    const clock = new ManualClock();
    const times: number[] = [];
    const outcomes: ReconcileOutcome[] = [{ kind: 'requeueAfter', ms: 5000 }, { kind: 'done' }];
    const q = new WorkQueue(
      async () => {
        times.push(clock.now());
        return outcomes.shift()!;
      },
      { concurrency: 1, clock },
    );
    q.start();
    q.add('a');
    await q.whenIdle();
    clock.advance(4999);
    await q.whenIdle();
    expect(times).toEqual([0]);
    clock.advance(1);
    await q.whenIdle();
    expect(times).toEqual([0, 5000]);
  });

  it('keeps the earliest of two delayed adds', async () => {
    const clock = new ManualClock();
    const times: number[] = [];
    const q = new WorkQueue(
      async () => {
        times.push(clock.now());
        return { kind: 'done' };
      },
      { concurrency: 1, clock },
    );
    q.start();
    q.addAfter('a', 1000);
    q.addAfter('a', 3000);
    q.addAfter('a', 500);
    clock.advance(3000);
    await q.whenIdle();
    expect(times).toEqual([500]);
  });

  it('takes no new keys once stopped', async () => {
    const seen: string[] = [];
    const q = new WorkQueue(
      async (k) => {
        seen.push(k);
        return { kind: 'done' };
      },
      { concurrency: 1 },
    );
    q.stop();
    q.add('a');
    await flush();
    expect(seen).toEqual([]);
    q.start();
    await q.whenIdle();
    expect(seen).toEqual(['a']);
  });
});
