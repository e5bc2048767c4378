import type { Checkpoint } from '../../api/checkpoint.js';

/**
 * How many checkpoint Jobs run on each node at once (MAX_CHECKPOINT_JOBS_PER_NODE). Each one
 * starts a pod and has the runtime freeze a container while CRIU dumps its memory, then streams
 * the archive: a burst of a hundred Checkpoints on one node would otherwise start a hundred of
 * them together and starve the node's workloads, its kubelet and the Jobs themselves. Further
 * Checkpoints for a full node stay Pending, first come first served, and start as slots free up.
 *
 * Kept like BusyContainers: filled from the Checkpoint cache (a Running Checkpoint holds a slot on
 * its status's node, so a new leader knows at once) and claimed by the reconciler in the same turn
 * as its check. A holder that finished or went away is let go when another Checkpoint asks.
 */
export class NodeSlots {
  private readonly holders = new Map<string, Set<string>>();
  private readonly held = new Map<string, string>();
  private readonly waiting = new Map<string, Set<string>>();

  /**
   * @param limit checkpoint Jobs per node at once; 0: no limit
   * @param isActive whether a Checkpoint (`namespace/name`) may still be checkpointing
   * @param wake queues a Checkpoint that waited for a slot that came free
   */
  constructor(
    private readonly limit: number,
    private readonly isActive: (checkpoint: string) => boolean,
    private readonly wake: (checkpoint: string) => void,
  ) {}

  /** How many Checkpoints other than this one hold the node's slots, when they are all taken. */
  fullFor(node: string, checkpoint: string): number | undefined {
    if (this.limit === 0 || this.held.get(checkpoint) === node) return undefined;
    const holders = this.holders.get(node);
    if (!holders || holders.size < this.limit) return undefined;
    for (const holder of [...holders]) if (!this.isActive(holder)) this.release(holder);
    return holders.size >= this.limit ? holders.size : undefined;
  }

  claim(node: string, checkpoint: string): void {
    const previous = this.held.get(checkpoint);
    if (previous === node) return;
    if (previous !== undefined) this.release(checkpoint);
    let holders = this.holders.get(node);
    if (!holders) this.holders.set(node, (holders = new Set()));
    holders.add(checkpoint);
    this.held.set(checkpoint, node);
    this.waiting.get(node)?.delete(checkpoint);
  }

  /** Remembers a Checkpoint waiting for a slot on the node, in the order they asked. */
  wait(node: string, checkpoint: string): void {
    let waiters = this.waiting.get(node);
    if (!waiters) this.waiting.set(node, (waiters = new Set()));
    waiters.add(checkpoint);
  }

  /** Frees the Checkpoint's slot and wakes as many waiters as there are free slots, oldest first. */
  release(checkpoint: string): void {
    const node = this.held.get(checkpoint);
    if (node === undefined) return;
    this.held.delete(checkpoint);
    const holders = this.holders.get(node);
    holders?.delete(checkpoint);
    if (holders?.size === 0) this.holders.delete(node);
    const waiters = this.waiting.get(node);
    if (!waiters) return;
    let free = this.limit - (holders?.size ?? 0);
    for (const waiter of waiters) {
      if (free <= 0) break;
      waiters.delete(waiter);
      free--;
      this.wake(waiter);
    }
    if (waiters.size === 0) this.waiting.delete(node);
  }

  /** Follows the cache: a Running Checkpoint holds a slot on its node, a finished one none. */
  observe(checkpoint: Checkpoint, deleted: boolean): void {
    const key = `${checkpoint.metadata.namespace}/${checkpoint.metadata.name}`;
    const status = checkpoint.status;
    if (!deleted && status?.phase === 'Running' && status.nodeName) {
      this.claim(status.nodeName, key);
      return;
    }
    // Pending: a claim made by the reconciler stands until the Running status arrives.
    if (
      !deleted &&
      !checkpoint.metadata.deletionTimestamp &&
      (status?.phase === undefined || status.phase === 'Pending')
    )
      return;
    this.forgetWaiter(key);
    this.release(key);
  }

  private forgetWaiter(checkpoint: string): void {
    for (const [node, waiters] of this.waiting) {
      if (waiters.delete(checkpoint) && waiters.size === 0) this.waiting.delete(node);
    }
  }
}
