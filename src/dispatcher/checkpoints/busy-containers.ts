import type { Checkpoint } from '../../api/checkpoint.js';

/** `<pod namespace>/<pod name>/<container>`: what a checkpoint Job acts on. */
export function containerKey(namespace: string, podName: string, containerName: string): string {
  return `${namespace}/${podName}/${containerName}`;
}

/**
 * Which Checkpoint is checkpointing each container right now, so that one container is
 * checkpointed by one Job at a time. Two at once would race on the node: the kubelet names an
 * archive after the container and the second (RFC 3339, one-second resolution), so a second
 * checkpoint within the same second overwrites the first archive before its Job has stored it, and
 * a runtime freezes a container for one dump at a time anyway.
 *
 * Filled from the Checkpoint cache (every Running Checkpoint holds its container, so a new leader
 * knows at once) and by the reconciler when it starts a Job, before the Job's Running status
 * reaches the cache. Only the leader's reconciler claims, from one process: a claim and its check
 * happen in the same turn of the event loop. A reconcile working from a stale cache can claim for
 * a Checkpoint that has already finished, so a holder is checked against the cache whenever
 * another Checkpoint asks: a finished holder is released on the spot.
 */
export class BusyContainers {
  private readonly holders = new Map<string, string>();
  private readonly held = new Map<string, string>();
  private readonly waiting = new Map<string, Set<string>>();

  /**
   * @param isActive whether a Checkpoint (`namespace/name`) may still be checkpointing: it exists,
   *   is not being deleted and has no result
   * @param wake queues a Checkpoint that waited for a container that came free
   */
  constructor(
    private readonly isActive: (checkpoint: string) => boolean,
    private readonly wake: (checkpoint: string) => void,
  ) {}

  /** The Checkpoint (`namespace/name`) holding a container, if another one does. */
  heldByOther(container: string, checkpoint: string): string | undefined {
    const holder = this.holders.get(container);
    if (holder === undefined || holder === checkpoint) return undefined;
    if (!this.isActive(holder)) {
      this.release(holder);
      return undefined;
    }
    return holder;
  }

  claim(container: string, checkpoint: string): void {
    // A Checkpoint acts on one container; claiming again (its Running status arriving) keeps the waiters.
    const previous = this.held.get(checkpoint);
    if (previous !== undefined && previous !== container && this.holders.get(previous) === checkpoint)
      this.holders.delete(previous);
    this.holders.set(container, checkpoint);
    this.held.set(checkpoint, container);
  }

  /** Remembers a Checkpoint waiting for a container, to be queued again when it is released. */
  wait(container: string, checkpoint: string): void {
    let waiters = this.waiting.get(container);
    if (!waiters) this.waiting.set(container, (waiters = new Set()));
    waiters.add(checkpoint);
  }

  /** Releases what a Checkpoint holds, and wakes the Checkpoints that were waiting for it. */
  release(checkpoint: string): void {
    const container = this.held.get(checkpoint);
    if (container === undefined) return;
    this.held.delete(checkpoint);
    if (this.holders.get(container) === checkpoint) this.holders.delete(container);
    const waiters = this.waiting.get(container);
    this.waiting.delete(container);
    for (const waiter of waiters ?? []) this.wake(waiter);
  }

  /** Follows the cache: a Running Checkpoint holds its container, a finished one nothing. */
  observe(checkpoint: Checkpoint, deleted: boolean): void {
    const key = `${checkpoint.metadata.namespace}/${checkpoint.metadata.name}`;
    const status = checkpoint.status;
    const target = checkpoint.spec?.target;
    if (!deleted && status?.phase === 'Running' && status.containerName && target?.podName) {
      this.claim(
        containerKey(target.namespace ?? checkpoint.metadata.namespace!, target.podName, status.containerName),
        key,
      );
      return;
    }
    // Pending: a claim made by the reconciler stands until the Running status arrives.
    if (
      !deleted &&
      !checkpoint.metadata.deletionTimestamp &&
      (status?.phase === undefined || status.phase === 'Pending')
    )
      return;
    this.release(key);
  }
}
