import type { V1Job, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { ARCHIVE_MOUNT_PATH } from '../shared/storage-input.js';
import { RESTORE_JOB_INPUT_ENV, type RestoreJobInput } from './job-input.js';
import { buildActionJob, type JobSettings } from '../shared/action-job.js';
import { jobName, ownerLabels } from '../../kube/names.js';
import { jobSecretVolumes } from '../shared/job-secret-volumes.js';

/** Time for fetching, verifying and pushing one archive; a stalled registry cannot hold a Job for ever. */
export const RESTORE_JOB_DEADLINE_SECONDS = 30 * 60;
/** Finished restore Jobs stay a day for `kubectl describe`, then go with their pods. */
export const RESTORE_JOB_TTL_SECONDS = 24 * 60 * 60;

/**
 * The name of the restore Job for one attempt of one request on one pod: retrying a step of the
 * same attempt always names the same Job, and a request asked for again after it finished is a
 * new attempt with a new Job.
 */
export function restoreJobName(
  pod: { namespace: string; name: string; uid: string },
  request: string,
  checkpointUid: string,
  attempt: number,
): string {
  return jobName('restore', pod, `${request}\0${checkpointUid}\0${attempt}`);
}

/**
 * The Job that turns one archive into a checkpoint image. Pinned to the node holding the archive
 * for `local`, else to the restored pod's node. The per-Job Secret (named like the Job) carries
 * S3 credentials, the registry's push credentials and its CA bundle, each mounted read-only where the Job
 * expects it, only the keys that are there.
 */
export function buildRestoreJob(
  input: RestoreJobInput,
  settings: JobSettings,
  secretKeys: string[],
  nodeName: string,
): V1Job {
  const labels = ownerLabels('restore', input.pod);
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  const storage = input.storage;
  if (storage.backend === 'local') {
    volumes.push({ name: 'archive', hostPath: { path: storage.path, type: 'Directory' } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH, readOnly: true });
  } else if (storage.backend === 'pvc') {
    volumes.push({ name: 'archive', persistentVolumeClaim: { claimName: storage.claimName, readOnly: true } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH, readOnly: true });
  }
  // Archives on node and claim volumes were written by the root checkpoint Job with mode 0600.
  const runAsRoot = storage.backend !== 's3';
  const secret = jobSecretVolumes(input.jobName, secretKeys, runAsRoot);
  volumes.push(...secret.volumes);
  mounts.push(...secret.mounts);
  return buildActionJob({
    action: 'restore',
    name: input.jobName,
    labels,
    settings,
    inputEnv: { name: RESTORE_JOB_INPUT_ENV, value: JSON.stringify(input) },
    nodeName,
    volumes,
    mounts,
    activeDeadlineSeconds: RESTORE_JOB_DEADLINE_SECONDS,
    runAsRoot,
    // The dispatcher reads a restore Job only while its restore is in flight (35 minutes at most).
    ttlSecondsAfterFinished: RESTORE_JOB_TTL_SECONDS,
  });
}
