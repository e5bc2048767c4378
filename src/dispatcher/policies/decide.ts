import { type CheckpointPolicy, DEFAULT_SWEEP_SCHEDULE, isValidCronSchedule } from '../../api/checkpoint-policy.js';
import type { JobStorage } from '../../actions/shared/storage-input.js';
import { nextRunTime, sweepCronJobName } from '../../actions/sweep/cronjob.js';
import { policyClaimName, type S3SecretPlan, s3SecretPlan } from '../shared/job-storage.js';

/** What a policy should have in the cluster, and what its status should say. */
export type PolicyDecision =
  | {
      kind: 'sweep';
      cronJobName: string;
      schedule: string;
      timeZone: string | undefined;
      suspend: boolean;
      /** The storage the sweep lists for orphans: pvc and s3 only. */
      storage: JobStorage | undefined;
      s3Secrets: S3SecretPlan | undefined;
      /** A claim to create from the policy's pvcTemplate. */
      templateClaim: string | undefined;
      nextSweepTime: Date | undefined;
    }
  | { kind: 'noSweep'; templateClaim: string | undefined; why: string }
  | { kind: 'invalid'; reason: string; message: string; templateClaim: string | undefined };

/**
 * Decides a policy's sweep from its spec alone. A policy with no limit (neither maxCount nor
 * maxAge) has nothing to sweep, so it gets no CronJob; one with limits gets one on its schedule.
 */
export function decidePolicy(policy: CheckpointPolicy, operatorNamespace: string, now: number): PolicyDecision {
  const storage = policy.spec.storage;
  const templateClaim =
    storage?.backend === 'pvc' && storage.pvcTemplate && !storage.pvc?.claimName
      ? policyClaimName(policy.metadata.name)
      : undefined;
  const retention = policy.spec.retention;
  if (!retention || (retention.maxCount === undefined && retention.maxAge === undefined)) {
    return { kind: 'noSweep', templateClaim, why: 'the policy sets no retention limit (maxCount or maxAge)' };
  }
  const schedule = retention.schedule ?? DEFAULT_SWEEP_SCHEDULE;
  // The CRD checks the shape; cron-parser, which the operator schedules with, has the last word.
  if (!isValidCronSchedule(schedule)) {
    return {
      kind: 'invalid',
      reason: 'InvalidSchedule',
      message: `spec.retention.schedule ${JSON.stringify(schedule)} is not a cron expression cron-parser accepts`,
      templateClaim,
    };
  }
  if (retention.timeZone !== undefined && !isKnownTimeZone(retention.timeZone)) {
    return {
      kind: 'invalid',
      reason: 'InvalidTimeZone',
      templateClaim,
      message: `spec.retention.timeZone ${JSON.stringify(retention.timeZone)} is not an IANA time zone such as 'Europe/Paris' or 'UTC'`,
    };
  }
  let sweepStorage: JobStorage | undefined;
  let s3Secrets: S3SecretPlan | undefined;
  if (storage?.backend === 'pvc') {
    const claimName =
      storage.pvc?.claimName ?? (storage.pvcTemplate ? policyClaimName(policy.metadata.name) : undefined);
    if (claimName) sweepStorage = { backend: 'pvc', claimName };
  } else if (storage?.backend === 's3' && storage.s3?.bucket) {
    const { credentialsSecretRef: _c, caBundleSecretRef: _ca, ...s3 } = storage.s3;
    sweepStorage = {
      backend: 's3',
      ...s3,
      bucket: storage.s3.bucket,
      prefix: s3.prefix ?? '',
      credentials: 'ambient',
      caBundle: false,
    };
    s3Secrets = s3SecretPlan({ ...storage.s3, bucket: storage.s3.bucket }, operatorNamespace);
  }
  return {
    kind: 'sweep',
    cronJobName: sweepCronJobName(policy.metadata.name),
    schedule,
    timeZone: retention.timeZone,
    suspend: retention.suspend ?? false,
    storage: sweepStorage,
    s3Secrets,
    templateClaim,
    nextSweepTime: retention.suspend ? undefined : nextRunTime(schedule, retention.timeZone, now),
  };
}

/**
 * True when the time-zone database knows the name. The CRD only checks its characters, and the
 * API server refuses a CronJob with an unknown zone: without this the sweep could never be made.
 * Names are matched as the CronJob controller matches them (file names: case counts), so
 * 'europe/paris' is refused here rather than by the API server later.
 */
export function isKnownTimeZone(timeZone: string): boolean {
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat('en-US', { timeZone }).resolvedOptions().timeZone;
  } catch {
    return false;
  }
  // Intl also takes UTC offsets ('+01'), which are not zone names.
  if (/^[+-]/.test(resolved)) return false;
  // Intl ignores case and canonicalises aliases (US/Eastern → America/New_York): an alias is
  // fine, the same name in other letter case is not.
  return resolved === timeZone || resolved.toLowerCase() !== timeZone.toLowerCase();
}
