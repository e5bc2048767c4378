import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../clock/clock.js';
import type { Logger } from '../observability/logger.js';
import { isAlreadyExists, isConflict, isNotFound } from './errors.js';
import { microTime } from './micro-time.js';

export interface LeaseRecord {
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string;
  renewTime: string;
  leaseTransitions: number;
}

/** The lease changed (or appeared) under us: someone else wrote first. */
export class LeaseConflict extends Error {}

/** Where the lease lives; a real Lease object in production, a map in tests. */
export interface LeaseStore {
  /** undefined when absent. */
  get(): Promise<{ record: LeaseRecord; version: string } | undefined>;
  /** Rejects with LeaseConflict when it already exists. */
  create(record: LeaseRecord): Promise<void>;
  /** Rejects with LeaseConflict when version is stale. */
  update(record: LeaseRecord, version: string): Promise<void>;
}

export interface LeaderElectionOptions {
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
  store: LeaseStore;
  clock?: Clock;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

/**
 * Leader election on a Lease with client-go's semantics. A candidate takes the lease when it is
 * free or when its holder has not renewed it for leaseDuration, measured on *our* clock from when
 * we last saw the record change (clocks of different nodes are never compared). The leader renews
 * every retryPeriod; if renewals keep failing for renewDeadline it stops leading at once, before
 * anyone else may take over (renewDeadline < leaseDuration). That deadline is kept by a timer of
 * its own, as client-go bounds its renew loop with it: a renewal request that hangs (an API
 * server waiting on an etcd that is gone, a silent network) must not keep a replica leading past
 * the moment a standby may take the lease.
 */
export class LeaderElector {
  private readonly clock: Clock;
  private observed: { record: LeaseRecord; version: string; at: number } | undefined;
  private leading = false;
  private lastRenewal = 0;
  private running = false;
  private cancelTimer: (() => void) | undefined;
  private cancelDeadline: (() => void) | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.running = true;
    void this.tick();
  }

  /** Stops campaigning; a leader gives the lease up so a standby takes over without waiting. */
  async stop(): Promise<void> {
    this.running = false;
    this.cancelTimer?.();
    this.cancelDeadline?.();
    if (this.leading) {
      this.setLeading(false);
      await this.release();
    }
  }

  private async tick(): Promise<void> {
    if (!this.running) return;
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.options.log.warn({ err: String((err as Error)?.message ?? err) }, 'leader election: lease request failed');
    }
    if (!this.running) return;
    const now = this.clock.now();
    if (ok) {
      this.lastRenewal = now;
      if (!this.leading) this.setLeading(true);
      this.armRenewDeadline();
    } else {
      this.checkRenewDeadline();
    }
    const jitter = this.leading ? 0 : Math.floor(Math.random() * this.options.retryPeriodMs * 0.2);
    this.cancelTimer = this.clock.after(
      Math.min(this.options.retryPeriodMs + jitter, this.untilObservedExpiry(now)),
      () => void this.tick(),
    );
  }

  /** From the last renewal, whether or not a request is still on its way. */
  private armRenewDeadline(): void {
    this.cancelDeadline?.();
    const left = this.lastRenewal + this.options.renewDeadlineMs - this.clock.now();
    this.cancelDeadline = this.clock.after(Math.max(0, left), () => this.checkRenewDeadline());
  }

  private checkRenewDeadline(): void {
    if (!this.running || !this.leading) return;
    if (this.clock.now() - this.lastRenewal < this.options.renewDeadlineMs) return;
    this.cancelDeadline?.();
    this.options.log.error(
      { identity: this.options.identity },
      'leader election: could not renew the lease in time; stopping leading',
    );
    this.setLeading(false);
  }

  /**
   * A standby tries again the moment the lease it watches would expire rather than at its next
   * retry tick: after a leader dies, that saves up to one retry period of leaderless time.
   */
  private untilObservedExpiry(now: number): number {
    if (this.leading || !this.observed || this.observed.record.holderIdentity === '') return Number.POSITIVE_INFINITY;
    const left = this.observed.at + this.observed.record.leaseDurationSeconds * 1000 - now;
    return left >= 0 ? left : Number.POSITIVE_INFINITY;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, leaseDurationMs, store } = this.options;
    const current = await store.get();
    // Taken once the record is in hand, as client-go does: a renewal that landed while the read
    // was on its way is then never dated earlier than it happened.
    const now = this.clock.now();
    const nowIso = new Date(now).toISOString();
    const fresh: LeaseRecord = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      acquireTime: nowIso,
      renewTime: nowIso,
      leaseTransitions: 0,
    };
    if (!current) {
      try {
        await store.create(fresh);
      } catch (err) {
        if (err instanceof LeaseConflict) return false;
        throw err;
      }
      this.observed = undefined;
      return true;
    }
    if (!this.observed || this.observed.version !== current.version) {
      this.observed = { ...current, at: now };
    }
    const held = current.record.holderIdentity !== '' && current.record.holderIdentity !== identity;
    const expired = this.observed.at + current.record.leaseDurationSeconds * 1000 <= now;
    if (held && !expired) return false;
    const next: LeaseRecord =
      current.record.holderIdentity === identity
        ? { ...current.record, renewTime: nowIso, leaseDurationSeconds: fresh.leaseDurationSeconds }
        : { ...fresh, leaseTransitions: current.record.leaseTransitions + 1 };
    try {
      await store.update(next, current.version);
    } catch (err) {
      if (err instanceof LeaseConflict) return false;
      throw err;
    }
    return true;
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.options.log.info({ identity: this.options.identity, leading }, leading ? 'became leader' : 'stopped leading');
    if (leading) this.options.onStartedLeading();
    else this.options.onStoppedLeading();
  }

  private async release(): Promise<void> {
    try {
      const current = await this.options.store.get();
      if (!current || current.record.holderIdentity !== this.options.identity) return;
      await this.options.store.update(
        {
          ...current.record,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: new Date(this.clock.now()).toISOString(),
        },
        current.version,
      );
    } catch (err) {
      this.options.log.warn({ err: String(err) }, 'leader election: could not release the lease');
    }
  }
}

/** A LeaseStore on a coordination.k8s.io/v1 Lease. */
export function kubernetesLeaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  const toLease = (r: LeaseRecord, version?: string): V1Lease => ({
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name, namespace, ...(version ? { resourceVersion: version } : {}) },
    spec: {
      holderIdentity: r.holderIdentity,
      leaseDurationSeconds: r.leaseDurationSeconds,
      acquireTime: microTime(Date.parse(r.acquireTime)) as never,
      renewTime: microTime(Date.parse(r.renewTime)) as never,
      leaseTransitions: r.leaseTransitions,
    },
  });
  return {
    async get() {
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        const s = lease.spec ?? {};
        return {
          version: lease.metadata!.resourceVersion!,
          record: {
            holderIdentity: s.holderIdentity ?? '',
            leaseDurationSeconds: s.leaseDurationSeconds ?? 15,
            acquireTime: new Date(s.acquireTime ?? 0).toISOString(),
            renewTime: new Date(s.renewTime ?? 0).toISOString(),
            leaseTransitions: s.leaseTransitions ?? 0,
          },
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async create(record) {
      try {
        await api.createNamespacedLease({ namespace, body: toLease(record) });
      } catch (err) {
        if (isAlreadyExists(err) || isConflict(err)) throw new LeaseConflict(name);
        throw err;
      }
    },
    async update(record, version) {
      try {
        await api.replaceNamespacedLease({ name, namespace, body: toLease(record, version) });
      } catch (err) {
        if (isConflict(err)) throw new LeaseConflict(name);
        throw err;
      }
    },
  };
}
