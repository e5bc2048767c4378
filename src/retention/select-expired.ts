import type { Checkpoint } from '../api/checkpoint.js';
import { parseGoDuration } from '../api/duration.js';

export type ExpiryReason = 'MaxCount' | 'MaxAge';

export interface ExpiredCheckpoint {
  checkpoint: Checkpoint;
  reason: ExpiryReason;
}

export interface RetentionSelection {
  expired: ExpiredCheckpoint[];
  /** Terminal Checkpoints no limit expires. */
  kept: Checkpoint[];
  /** Terminal Checkpoints a limit expires but that stay, because a restore is reading their archive. */
  protectedByRestore: Checkpoint[];
}

export interface RetentionLimits {
  maxCount?: number | undefined;
  maxAge?: string | undefined;
}

/** A maxAge the CRD should have rejected; the sweep reports it instead of ignoring the limit. */
export class InvalidRetentionError extends Error {
  readonly reason = 'InvalidRetention';
}

/**
 * Which Checkpoints a retention sweep deletes, decided from the listed objects alone.
 *
 * Only terminal Checkpoints (Succeeded, Failed) take part: one still running has no archive to
 * count yet, and one being deleted is already on its way out.
 * - maxCount keeps the newest N Succeeded Checkpoints per target container. Failed ones hold no
 *   archive, so they never use up a place (and never push a good checkpoint out).
 * - maxAge expires any terminal Checkpoint older than the limit. When both limits apply to one
 *   Checkpoint, MaxAge is the reason given: it holds whatever the other Checkpoints are.
 * - A Checkpoint with a restore in flight is never expired: the restore is reading its archive.
 */
export function selectExpired(
  checkpoints: readonly Checkpoint[],
  retention: RetentionLimits,
  now: number,
): RetentionSelection {
  const maxAgeMs = retention.maxAge === undefined ? undefined : parseMaxAge(retention.maxAge);
  const expired: ExpiredCheckpoint[] = [];
  const kept: Checkpoint[] = [];
  const protectedByRestore: Checkpoint[] = [];

  for (const group of groupByContainer(checkpoints.filter(isTerminal)).values()) {
    let succeededSeen = 0;
    const dated = group.map((checkpoint) => ({ checkpoint, time: checkpointTime(checkpoint, now) }));
    for (const { checkpoint, time } of dated.sort(newestFirst)) {
      // A restore-protected Succeeded Checkpoint takes its place in the newest-first order like
      // any other: it uses up one of the maxCount places rather than letting an older one stay,
      // and when it is itself beyond maxCount it is spared (the limit is exceeded until its
      // restore ends) instead of a newer Checkpoint being deleted in its place.
      const beyondMaxCount =
        checkpoint.status?.phase === 'Succeeded' &&
        retention.maxCount !== undefined &&
        ++succeededSeen > retention.maxCount;
      const tooOld = maxAgeMs !== undefined && now - time > maxAgeMs;
      const reason: ExpiryReason | undefined = tooOld ? 'MaxAge' : beyondMaxCount ? 'MaxCount' : undefined;
      if (reason === undefined) kept.push(checkpoint);
      else if (hasRestoreInFlight(checkpoint)) protectedByRestore.push(checkpoint);
      else expired.push({ checkpoint, reason });
    }
  }
  return { expired, kept, protectedByRestore };
}

/** The container a Checkpoint is of, as `namespace/pod/container`: the unit maxCount counts in. */
export function targetContainerKey(c: Checkpoint): string {
  const namespace = c.spec.target.namespace ?? c.metadata.namespace ?? '';
  const container = c.status?.containerName ?? c.spec.target.containerName ?? '';
  return `${namespace}/${c.spec.target.podName}/${container}`;
}

/**
 * When a Checkpoint's archive was made, in ms: the archive's own time, else when the Checkpoint
 * finished, else when it was created. A Checkpoint with no readable time counts as made `now`:
 * it is then never expired for its age nor ranked older than a Checkpoint whose age is known.
 */
export function checkpointTime(c: Checkpoint, now: number): number {
  const raw = c.status?.archive?.createdAt ?? c.status?.completionTime ?? c.metadata.creationTimestamp;
  const ms = raw === undefined ? Number.NaN : new Date(raw).getTime();
  return Number.isNaN(ms) ? now : ms;
}

function parseMaxAge(maxAge: string): number {
  const ms = parseGoDuration(maxAge);
  if (ms === undefined || ms <= 0)
    throw new InvalidRetentionError(
      `retention.maxAge ${JSON.stringify(maxAge)} is not a positive Go duration such as '72h'`,
    );
  return ms;
}

function isTerminal(c: Checkpoint): boolean {
  return (c.status?.phase === 'Succeeded' || c.status?.phase === 'Failed') && !c.metadata.deletionTimestamp;
}

function hasRestoreInFlight(c: Checkpoint): boolean {
  return c.status?.restores?.some((r) => r.result === 'Pending' || r.result === 'Running') ?? false;
}

function groupByContainer(checkpoints: readonly Checkpoint[]): Map<string, Checkpoint[]> {
  const groups = new Map<string, Checkpoint[]>();
  for (const c of checkpoints) {
    const key = targetContainerKey(c);
    const group = groups.get(key);
    if (group) group.push(c);
    else groups.set(key, [c]);
  }
  return groups;
}

/**
 * Newest first. Equal times are ordered by name, then namespace, later names counting as newer
 * (generated and numbered names grow over time), so every sweep makes the same choice.
 */
function newestFirst(a: { checkpoint: Checkpoint; time: number }, b: { checkpoint: Checkpoint; time: number }): number {
  return (
    b.time - a.time ||
    compare(b.checkpoint.metadata.name, a.checkpoint.metadata.name) ||
    compare(b.checkpoint.metadata.namespace ?? '', a.checkpoint.metadata.namespace ?? '')
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
