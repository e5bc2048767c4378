import type { V1ObjectReference } from '@kubernetes/client-node';
import type { LeanKubeClient } from './lean-client.js';
import { type Clock, systemClock } from '../clock/clock.js';
import type { Logger } from '../observability/logger.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  /** '' for a cluster-scoped object. */
  namespace: string;
  name: string;
  uid?: string | undefined;
}

/** Events waiting to be sent; beyond this, new ones are dropped (as client-go's broadcaster does). */
const MAX_PENDING = 1000;
const IN_FLIGHT = 4;

/**
 * Records Events on objects, as `kubectl describe` shows them. Like client-go's recorder, it never
 * makes a reconcile wait: events go out in the background, a few at a time, and a failure to
 * record one is logged, never propagated.
 */
export class EventRecorder {
  constructor(
    private readonly client: LeanKubeClient,
    private readonly component: string,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  private readonly pending: (() => Promise<void>)[] = [];
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): void {
    if (this.pending.length >= MAX_PENDING) {
      this.log.warn({ reason, name: target.name }, 'event dropped: too many pending');
      return;
    }
    const at = new Date(this.clock.now());
    this.pending.push(() => this.send(target, type, reason, message, at));
    this.pump();
  }

  /** Resolves once every recorded event has been sent (or has failed). */
  flush(): Promise<void> {
    if (this.pending.length === 0 && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private pump(): void {
    while (this.inFlight < IN_FLIGHT && this.pending.length > 0) {
      const send = this.pending.shift()!;
      this.inFlight++;
      void send().finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
    if (this.pending.length === 0 && this.inFlight === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  private async send(
    target: EventTarget,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    now: Date,
  ): Promise<void> {
    const involvedObject: V1ObjectReference = {
      apiVersion: target.apiVersion,
      kind: target.kind,
      ...(target.namespace ? { namespace: target.namespace } : {}),
      name: target.name,
      uid: target.uid,
    };
    // A cluster-scoped object's Events live in "default", as client-go records them; the empty
    // involvedObject.namespace is what `kubectl describe` selects them by.
    const namespace = target.namespace || 'default';
    try {
      await this.client.post(`/api/v1/namespaces/${namespace}/events`, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${target.name}.`, namespace },
        involvedObject,
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: this.component },
        reportingComponent: this.component,
        reportingInstance: process.env.POD_NAME ?? this.component,
        firstTimestamp: now.toISOString(),
        lastTimestamp: now.toISOString(),
        count: 1,
      });
    } catch (err) {
      this.log.warn({ err: String(err), reason }, 'could not record event');
    }
  }
}
