import type { Archive, Checkpoint, CheckpointStatus } from './checkpoint.js';
import { setCondition } from './condition-set.js';

/**
 * The Checkpoint status transitions, shared by the dispatcher and the Jobs so both write the
 * same shape. Each returns the fields to merge into status; `Succeeded` is the one condition,
 * Unknown while the Job runs (as Tekton and kstatus read it).
 */

type Current = Pick<Checkpoint, 'status'> & { metadata: { generation?: number | undefined } };

export function runningStatus(
  current: Current,
  fields: { jobName: string; nodeName: string; containerName: string },
  now: Date,
): CheckpointStatus {
  return {
    phase: 'Running',
    reason: 'JobRunning',
    message: `Job ${fields.jobName} is checkpointing container ${fields.containerName} on node ${fields.nodeName}`,
    jobName: fields.jobName,
    nodeName: fields.nodeName,
    containerName: fields.containerName,
    startTime: current.status?.startTime ?? now.toISOString(),
    observedGeneration: current.metadata.generation,
    conditions: setCondition(
      current.status?.conditions,
      {
        type: 'Succeeded',
        status: 'Unknown',
        reason: 'JobRunning',
        message: `Job ${fields.jobName} is running`,
        observedGeneration: current.metadata.generation,
      },
      now,
    ),
  };
}

export function failedStatus(current: Current, reason: string, message: string, now: Date): CheckpointStatus {
  return {
    phase: 'Failed',
    reason,
    message,
    completionTime: now.toISOString(),
    observedGeneration: current.metadata.generation,
    conditions: setCondition(
      current.status?.conditions,
      {
        type: 'Succeeded',
        status: 'False',
        reason,
        message,
        observedGeneration: current.metadata.generation,
      },
      now,
    ),
  };
}

export function succeededStatus(current: Current, archive: Archive, now: Date): CheckpointStatus {
  const message = `archive stored at ${archive.uri} (${archive.sizeBytes} bytes, sha256 ${archive.sha256})`;
  return {
    phase: 'Succeeded',
    reason: 'ArchiveStored',
    message,
    archive,
    completionTime: now.toISOString(),
    observedGeneration: current.metadata.generation,
    conditions: setCondition(
      current.status?.conditions,
      {
        type: 'Succeeded',
        status: 'True',
        reason: 'ArchiveStored',
        message,
        observedGeneration: current.metadata.generation,
      },
      now,
    ),
  };
}
