import type { V1Job, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { buildActionJob, type JobSettings, secretFileMode } from '../shared/action-job.js';
import {
  CHECKPOINT_JOB_INPUT_ENV,
  type CheckpointJobInput,
  KUBELET_CA_DIR,
  KUBELET_CHECKPOINT_DIR,
} from './job-input.js';
import { ARCHIVE_MOUNT_PATH, S3_SECRET_DIR } from '../shared/storage-input.js';
import { jobName, ownerLabels } from '../../kube/names.js';

export { JOB_NODE_OPTIONS, type JobSettings } from '../shared/action-job.js';

/** The volume of the per-Job Secret (named like the Job) holding S3 credentials and CA bundle. */
export const S3_SECRET_VOLUME = 's3-secret';

/** Bounds every Job: a stuck kubelet or storage can never keep a Job alive for ever. */
export const CHECKPOINT_JOB_LIMITS = {
  backoffLimit: 1,
  activeDeadlineSeconds: 15 * 60,
  kubeletGraceSeconds: 60,
} as const;

/**
 * The Job that checkpoints one container: pinned to the target's node by nodeName (the
 * checkpoint exists only there), the kubelet's checkpoint directory mounted from the node, and
 * the storage volume mounted at /archive for the filesystem backends.
 */
export function buildCheckpointJob(input: CheckpointJobInput, settings: JobSettings): V1Job {
  const owner = input.checkpoint;
  const name = jobName('checkpoint', owner);
  const labels = ownerLabels('checkpoint', owner);
  const volumes: V1Volume[] = [
    { name: 'kubelet-checkpoints', hostPath: { path: KUBELET_CHECKPOINT_DIR, type: 'DirectoryOrCreate' } },
  ];
  const mounts: V1VolumeMount[] = [{ name: 'kubelet-checkpoints', mountPath: KUBELET_CHECKPOINT_DIR }];
  if (input.storage.backend === 'local') {
    volumes.push({ name: 'archive', hostPath: { path: input.storage.path, type: 'DirectoryOrCreate' } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH });
  } else if (input.storage.backend === 'pvc') {
    volumes.push({ name: 'archive', persistentVolumeClaim: { claimName: input.storage.claimName } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH });
  } else if (input.storage.credentials === 'secret' || input.storage.caBundle) {
    volumes.push({ name: S3_SECRET_VOLUME, secret: { secretName: name, defaultMode: secretFileMode(true) } });
    mounts.push({ name: S3_SECRET_VOLUME, mountPath: S3_SECRET_DIR, readOnly: true });
  }
  if (input.kubelet.access === 'direct' && input.kubelet.caBundleSecret) {
    // Optional: a missing Secret or key must end in a reason from the Job, not in a pod that
    // waits for its volume until the Job's deadline.
    volumes.push({
      name: 'kubelet-ca',
      secret: {
        secretName: input.kubelet.caBundleSecret,
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
        optional: true,
        defaultMode: secretFileMode(true),
      },
    });
    mounts.push({ name: 'kubelet-ca', mountPath: KUBELET_CA_DIR, readOnly: true });
  }
  const timeout = input.kubelet.timeoutSeconds;
  const activeDeadlineSeconds = timeout
    ? Math.max(CHECKPOINT_JOB_LIMITS.activeDeadlineSeconds, timeout + CHECKPOINT_JOB_LIMITS.kubeletGraceSeconds)
    : CHECKPOINT_JOB_LIMITS.activeDeadlineSeconds;
  return buildActionJob({
    action: 'checkpoint',
    name,
    labels,
    settings,
    inputEnv: { name: CHECKPOINT_JOB_INPUT_ENV, value: JSON.stringify(input) },
    nodeName: input.nodeName,
    volumes,
    mounts,
    activeDeadlineSeconds,
    // The kubelet writes archives as root with mode 0600; only root can read and remove them.
    runAsRoot: true,
  });
}
