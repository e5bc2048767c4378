import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { LeaderElector, LeaseConflict, type LeaseRecord, type LeaseStore } from '../../src/kube/leader-election.js';
import { createLogger } from '../../src/observability/logger.js';

class MemoryLeaseStore implements LeaseStore {
  record: LeaseRecord | undefined;
  version = 0;
  down = false;
  /** Requests neither answer nor fail, as when the API server waits on an etcd that is gone. */
  hanging = false;
  async get() {
    if (this.hanging) await new Promise(() => undefined);
    if (this.down) throw new Error('connection refused');
    return this.record ? { record: { ...this.record }, version: String(this.version) } : undefined;
  }
  async create(record: LeaseRecord) {
    if (this.down) throw new Error('connection refused');
    if (this.record) throw new LeaseConflict('exists');
    this.record = { ...record };
    this.version++;
  }
  async update(record: LeaseRecord, version: string) {
    if (this.down) throw new Error('connection refused');
    if (version !== String(this.version)) throw new LeaseConflict('stale');
    this.record = { ...record };
    this.version++;
  }
}

const log = createLogger('test', 'silent');
const flush = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setImmediate(r));
};

function candidate(identity: string, store: LeaseStore, clock: ManualClock, events: string[]) {
  return new LeaderElector({
    identity,
    store,
    clock,
    log,
    leaseDurationMs: 15_000,
    renewDeadlineMs: 10_000,
    retryPeriodMs: 2_000,
    onStartedLeading: () => events.push(`${identity}:start`),
    onStoppedLeading: () => events.push(`${identity}:stop`),
  });
}

async function advance(clock: ManualClock, ms: number, step = 500) {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

describe('LeaderElector', () => {
  it('elects exactly one of two candidates', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await flush();
    b.start();
    await flush();
    await advance(clock, 10_000);
    expect(events).toEqual(['a:start']);
    expect(a.isLeader).toBe(true);
    expect(b.isLeader).toBe(false);
    expect(store.record?.holderIdentity).toBe('a');
  });

  it('lets the standby take over only after the lease duration when the leader dies', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await flush();
    b.start();
    await flush();
    await advance(clock, 4_000);
    // a dies without releasing: its timers simply stop.
    (a as unknown as { running: boolean }).running = false;
    const diedAt = clock.now();
    await advance(clock, 12_000);
    expect(b.isLeader).toBe(false);
    await advance(clock, 8_000);
    expect(b.isLeader).toBe(true);
    expect(store.record).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    const tookOverAfter = Date.parse(store.record!.acquireTime) - diedAt;
    expect(tookOverAfter).toBeGreaterThanOrEqual(15_000);
    expect(tookOverAfter).toBeLessThanOrEqual(15_000 + 2_000 * 1.2 + 2_000 + 500);
  });

  it('takes over at the moment the observed lease expires, not at the next retry tick', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await flush();
    b.start();
    await flush();
    await advance(clock, 4_100, 100);
    (a as unknown as { running: boolean }).running = false;
    const lastRenewal = Date.parse(store.record!.renewTime);
    await advance(clock, 20_000, 100);
    expect(b.isLeader).toBe(true);
    // b saw a's last renewal at most one retry period (plus jitter) after it was written, and
    // acts when leaseDuration has passed since then: no further polling delay.
    const tookOverAfter = Date.parse(store.record!.acquireTime) - lastRenewal;
    expect(tookOverAfter).toBeGreaterThanOrEqual(15_000);
    expect(tookOverAfter).toBeLessThanOrEqual(15_000 + 2_000 * 1.2 + 100);
  });

  it('hands over at once when the leader releases on shutdown', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await flush();
    b.start();
    await flush();
    await a.stop();
    expect(events).toEqual(['a:start', 'a:stop']);
    expect(store.record?.holderIdentity).toBe('');
    await advance(clock, 5_000);
    expect(b.isLeader).toBe(true);
  });

  it('stops leading when it cannot renew within the renew deadline', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    a.start();
    await flush();
    expect(a.isLeader).toBe(true);
    store.down = true;
    await advance(clock, 8_000);
    expect(a.isLeader).toBe(true);
    await advance(clock, 4_000);
    expect(a.isLeader).toBe(false);
    expect(events).toEqual(['a:start', 'a:stop']);
    // It stopped before anyone else could take the lease (lease duration 15 s).
    store.down = false;
    await advance(clock, 4_000);
    expect(a.isLeader).toBe(true);
  });

  it('stops leading at the renew deadline even while a renewal request hangs, before a standby can take over', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    a.start();
    await flush();
    expect(a.isLeader).toBe(true);
    const renewedAt = clock.now();
    store.hanging = true;
    await advance(clock, 9_500);
    expect(a.isLeader).toBe(true);
    await advance(clock, 1_000);
    // Renew deadline 10 s from the last renewal: well inside the 15 s a standby waits.
    expect(a.isLeader).toBe(false);
    expect(events).toEqual(['a:start', 'a:stop']);
    expect(clock.now() - renewedAt).toBeLessThan(15_000);
  });

  it('does not steal a lease its holder keeps renewing', async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryLeaseStore();
    const events: string[] = [];
    const a = candidate('a', store, clock, events);
    const b = candidate('b', store, clock, events);
    a.start();
    await flush();
    b.start();
    await advance(clock, 60_000);
    expect(events).toEqual(['a:start']);
    expect(store.record?.leaseTransitions).toBe(0);
  });
});
