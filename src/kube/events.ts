import { type CoreV1Api, type V1ObjectReference } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../clock/clock.js';
import type { Logger } from '../observability/logger.js';

export interface EventTarget {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
}

/**
 * Records Events on objects, as `kubectl describe` shows them. Best effort: a failure to record
 * is logged and never fails the reconcile that wanted to report it.
 */
export class EventRecorder {
  constructor(
    private readonly core: CoreV1Api,
    private readonly component: string,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  async record(target: EventTarget, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = new Date(this.clock.now());
    const involvedObject: V1ObjectReference = {
      apiVersion: target.apiVersion, kind: target.kind, namespace: target.namespace, name: target.name, uid: target.uid,
    };
    try {
      await this.core.createNamespacedEvent({
        namespace: target.namespace,
        body: {
          metadata: { generateName: `${target.name}.`, namespace: target.namespace },
          involvedObject,
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: this.component },
          reportingComponent: this.component,
          reportingInstance: process.env.POD_NAME ?? this.component,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        },
      });
    } catch (err) {
      this.log.warn({ err: String(err), reason }, 'could not record event');
    }
  }
}
