import { createHash } from 'node:crypto';
import type { V1CronJob, V1Volume, V1VolumeMount } from '@kubernetes/client-node';
import { CronExpressionParser } from 'cron-parser';
import type { CheckpointPolicy } from '../../api/checkpoint-policy.js';
import { API_GROUP_VERSION, CHECKPOINT_POLICY_KIND } from '../../api/constants.js';
import { DNS_LABEL } from '../../api/patterns.js';
import { ARCHIVE_MOUNT_PATH, S3_SECRET_KEYS } from '../shared/storage-input.js';
import { jobSecretVolumes } from '../shared/job-secret-volumes.js';
import { SWEEP_JOB_INPUT_ENV } from './job-input.js';
import { buildActionJob, type JobSettings } from '../shared/action-job.js';
import { LABELS, ownerLabels } from '../../kube/names.js';

/** The CronJob controller appends 11 characters to name each Job, which must stay within 63. */
const MAX_CRONJOB_NAME = 52;
const MAX_LABEL_VALUE = 63;
const PREFIX = 'sweep-';

/** A sweep lists and deletes objects, nothing slow; a hung one must not block the next (Forbid). */
export const SWEEP_JOB_DEADLINE_SECONDS = 30 * 60;
/** Runs the controller may start late (controller-manager down, say) before it skips one. */
export const SWEEP_STARTING_DEADLINE_SECONDS = 300;
export const SWEEP_HISTORY_LIMIT = 3;

const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 10);

/**
 * The policy's sweep CronJob: `sweep-<policy>` when that is a valid name, else a readable part of
 * the policy name plus a hash of all of it. Policy names are DNS subdomains of up to 253
 * characters, with dots, which a CronJob name (a DNS label) cannot hold; the hash keeps two
 * policies that read alike (`a.b`, `a-b`) apart.
 */
export function sweepCronJobName(policyName: string): string {
  const plain = `${PREFIX}${policyName}`;
  if (plain.length <= MAX_CRONJOB_NAME && DNS_LABEL.test(plain)) return plain;
  const hash = shortHash(policyName);
  const room = MAX_CRONJOB_NAME - PREFIX.length - hash.length - 1;
  const readable = policyName
    .slice(0, room)
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+$/, '');
  return readable ? `${PREFIX}${readable}-${hash}` : `${PREFIX}${hash}`;
}

/** The policy name as a label value (at most 63 characters): itself when it fits, else shortened with a hash. */
export function policyLabelValue(policyName: string): string {
  if (policyName.length <= MAX_LABEL_VALUE) return policyName;
  const hash = shortHash(policyName);
  return `${policyName.slice(0, MAX_LABEL_VALUE - hash.length - 1).replace(/[.-]+$/, '')}-${hash}`;
}

/** Labels of the CronJob and of every Job and pod it makes. */
export function sweepLabels(policy: { name: string; uid: string }): Record<string, string> {
  const value = policyLabelValue(policy.name);
  const labels: Record<string, string> = {
    ...ownerLabels('sweep', { namespace: '', name: value, uid: policy.uid }),
    [LABELS.policy]: value,
  };
  // A policy is cluster-scoped: no owner namespace, rather than an empty one.
  delete labels[LABELS.ownerNamespace];
  return labels;
}

/**
 * The CronJob that runs one policy's retention sweep. It lives in the Jobs' namespace, owned by
 * the cluster-scoped policy (the garbage collector removes it with the policy; blockOwnerDeletion
 * stays false, which needs no permission on the policy's finalizers). Its Jobs are not pinned:
 * a sweep reaches pvc and s3 storage from any node. Forbid: two sweeps of one policy never race.
 */
export function buildSweepCronJob(args: {
  policy: CheckpointPolicy;
  schedule: string;
  timeZone?: string | undefined;
  suspend: boolean;
  /** The sweep Job input, passed as SWEEP_JOB_INPUT. */
  input: object;
  settings: JobSettings;
  serviceAccountName: string;
  /** Keys of the Secret named secretName. */
  secretKeys: string[];
  /** The policy's S3 Secret (credentials, CA bundle), shared by all its sweep Jobs. */
  secretName?: string | undefined;
  /** The policy's claim, for pvc storage. */
  claimName?: string | undefined;
}): V1CronJob {
  const { policy } = args;
  const uid = policy.metadata.uid;
  if (!uid)
    throw new Error(
      `CheckpointPolicy ${policy.metadata.name} has no uid; a CronJob can only be owned by a stored object`,
    );
  const name = sweepCronJobName(policy.metadata.name);
  const labels = sweepLabels({ name: policy.metadata.name, uid });
  // Archives on a claim are root's, mode 0600 (written by the root checkpoint Job).
  const runAsRoot = args.claimName !== undefined;
  const volumes: V1Volume[] = [];
  const mounts: V1VolumeMount[] = [];
  if (args.claimName !== undefined) {
    volumes.push({ name: 'archive', persistentVolumeClaim: { claimName: args.claimName } });
    mounts.push({ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH });
  }
  if (args.secretName !== undefined) {
    // A sweep's Secret carries S3 keys only: it never reaches a registry.
    const s3Keys = args.secretKeys.filter((k) => (Object.values(S3_SECRET_KEYS) as string[]).includes(k));
    const secret = jobSecretVolumes(args.secretName, s3Keys, runAsRoot);
    volumes.push(...secret.volumes);
    mounts.push(...secret.mounts);
  }
  const job = buildActionJob({
    action: 'sweep',
    name,
    labels,
    // No trace context: the reconcile that wrote the CronJob is not the parent of every sweep it
    // will ever run.
    settings: {
      ...args.settings,
      serviceAccountName: args.serviceAccountName,
      traceparent: undefined,
      tracestate: undefined,
    },
    inputEnv: { name: SWEEP_JOB_INPUT_ENV, value: JSON.stringify(args.input) },
    nodeName: undefined,
    volumes,
    mounts,
    activeDeadlineSeconds: SWEEP_JOB_DEADLINE_SECONDS,
    runAsRoot,
    backoffLimit: 1,
  });
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name,
      namespace: args.settings.namespace,
      labels,
      ownerReferences: [
        {
          apiVersion: API_GROUP_VERSION,
          kind: CHECKPOINT_POLICY_KIND,
          name: policy.metadata.name,
          uid,
          controller: true,
          blockOwnerDeletion: false,
        },
      ],
    },
    spec: {
      schedule: args.schedule,
      ...(args.timeZone ? { timeZone: args.timeZone } : {}),
      suspend: args.suspend,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: SWEEP_STARTING_DEADLINE_SECONDS,
      // History by count, not TTL: the last runs stay for `kubectl logs`.
      successfulJobsHistoryLimit: SWEEP_HISTORY_LIMIT,
      failedJobsHistoryLimit: SWEEP_HISTORY_LIMIT,
      jobTemplate: { metadata: { labels }, spec: job.spec! },
    },
  };
}

/**
 * When the schedule next fires after now, for the policy's status.nextSweepTime; undefined for a
 * schedule or time zone cron-parser cannot read. Without a time zone the CronJob controller uses
 * its own; this assumes UTC, which is what controller-managers normally run in.
 */
export function nextRunTime(schedule: string, timeZone: string | undefined, now: number): Date | undefined {
  try {
    // The CronJob controller knows @midnight; cron-parser only its synonym @daily.
    const expression = schedule === '@midnight' ? '@daily' : schedule;
    return CronExpressionParser.parse(expression, { currentDate: new Date(now), tz: timeZone ?? 'UTC' })
      .next()
      .toDate();
  } catch {
    return undefined;
  }
}
