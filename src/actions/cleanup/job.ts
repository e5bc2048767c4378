import type { V1Job, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { ARCHIVE_MOUNT_PATH } from '../shared/storage-input.js';
import { CLEANUP_JOB_INPUT_ENV, type CleanupJobInput } from './job-input.js';
import { buildActionJob, type JobSettings } from '../shared/action-job.js';
import { jobName, ownerLabels } from '../../kube/names.js';
import { jobSecretVolumes } from '../shared/job-secret-volumes.js';

/**
 * A cleanup must outlast a storage outage, since the Checkpoint cannot go before its archive
 * does: 30 pods, the Job controller's backoff doubling from 10 s to its 6-minute cap, keep
 * trying for about two and a half hours; the deadline only stops a pod that hangs.
 */
export const CLEANUP_JOB_LIMITS = {
  backoffLimit: 30,
  activeDeadlineSeconds: 24 * 60 * 60,
  ttlSecondsAfterFinished: 60 * 60,
} as const;

export function cleanupJobName(checkpoint: { namespace: string; name: string; uid: string }): string {
  return jobName('cleanup', checkpoint);
}

/**
 * The Job that deletes one Checkpoint's archives. Pinned to the archive's node for `local`; the
 * storage is mounted read-write (deleting is writing). S3 credentials, and what reaches the
 * registry holding the Checkpoint's images, come from the per-Job Secret (named like the Job),
 * only the keys it holds.
 */
export function buildCleanupJob(
  input: CleanupJobInput,
  settings: JobSettings,
  secretKeys: string[],
  name: string,
): V1Job {
  const storage = input.storage;
  // Archives on node and claim volumes are root's, mode 0600 (written by the root checkpoint Job).
  const runAsRoot = storage.backend !== 's3';
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (storage.backend === 'local') {
    // OrCreate: a directory that is gone holds no archive, and the cleanup should succeed rather
    // than wait for a mount that never happens.
    volumes.push({ name: 'archive', hostPath: { path: storage.path, type: 'DirectoryOrCreate' } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH });
  } else if (storage.backend === 'pvc') {
    volumes.push({ name: 'archive', persistentVolumeClaim: { claimName: storage.claimName } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH });
  }
  const secret = jobSecretVolumes(name, secretKeys, runAsRoot);
  volumes.push(...secret.volumes);
  mounts.push(...secret.mounts);
  return buildActionJob({
    action: 'cleanup',
    name,
    labels: ownerLabels('cleanup', input.checkpoint),
    settings,
    inputEnv: { name: CLEANUP_JOB_INPUT_ENV, value: JSON.stringify(input) },
    nodeName: storage.backend === 'local' ? storage.nodeName : undefined,
    volumes,
    mounts,
    runAsRoot,
    ...CLEANUP_JOB_LIMITS,
  });
}
