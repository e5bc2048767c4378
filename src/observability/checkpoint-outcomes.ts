import type { Checkpoint } from '../api/checkpoint.js';

export interface CheckpointOutcome {
  uid: string;
  status: 'created' | 'failed';
  /** From the Checkpoint's start to its result, when both are recorded. */
  durationSeconds: number | undefined;
  sizeBytes: number | undefined;
  completedAt: number;
}

/**
 * The outcome a terminal Checkpoint counts as, or undefined when it is not terminal or finished
 * before `since` (the moment this replica became leader). Counting only results reached under
 * this replica's leadership keeps a new leader from counting history again, and a standby from
 * counting at all, so summing the replicas never doubles a count. Pure.
 */
export function checkpointOutcome(c: Checkpoint, since: number): CheckpointOutcome | undefined {
  const s = c.status;
  if (s?.phase !== 'Succeeded' && s?.phase !== 'Failed') return undefined;
  const completedAt = s.completionTime ? Date.parse(String(s.completionTime)) : Number.NaN;
  if (Number.isNaN(completedAt) || completedAt < since) return undefined;
  const startedAt = s.startTime ? Date.parse(String(s.startTime)) : Number.NaN;
  return {
    uid: c.metadata.uid ?? `${c.metadata.namespace}/${c.metadata.name}`,
    status: s.phase === 'Succeeded' ? 'created' : 'failed',
    durationSeconds: Number.isNaN(startedAt) ? undefined : Math.max(0, (completedAt - startedAt) / 1000),
    sizeBytes: s.phase === 'Succeeded' ? s.archive?.sizeBytes : undefined,
    completedAt,
  };
}
