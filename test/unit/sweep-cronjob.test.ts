import { describe, expect, it } from 'vitest';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import { ARCHIVE_MOUNT_PATH, S3_SECRET_DIR } from '../../src/actions/shared/storage-input.js';
import type { JobSettings } from '../../src/actions/shared/action-job.js';
import { LABELS } from '../../src/kube/names.js';
import { buildSweepCronJob, nextRunTime, policyLabelValue, sweepCronJobName } from '../../src/actions/sweep/cronjob.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const policy = (name: string): CheckpointPolicy => ({
  apiVersion: 'checkpoint.example.com/v1alpha1',
  kind: 'CheckpointPolicy',
  metadata: { name, uid: 'policy-uid-1' },
  spec: {},
});
const settings: JobSettings = {
  namespace: 'checkpoint-system',
  image: 'checkpoint-operator:dev',
  serviceAccountName: 'checkpoint-job',
  logLevel: 'info',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
};
const input = { policy: { name: 'default', uid: 'policy-uid-1' } };
const build = (extra: Partial<Parameters<typeof buildSweepCronJob>[0]> = {}) =>
  buildSweepCronJob({
    policy: policy('default'),
    schedule: '*/15 * * * *',
    suspend: false,
    input,
    settings,
    serviceAccountName: 'checkpoint-sweep',
    secretKeys: [],
    ...extra,
  });

describe('sweepCronJobName', () => {
  it('is sweep-<policy> when that is a valid name', () => {
    expect(sweepCronJobName('default')).toBe('sweep-default');
  });

  it('shortens with a hash, within 52 characters, for long or dotted names', () => {
    const long = `team.${'x'.repeat(240)}`;
    for (const name of [long, 'a.b', 'a-b', 'x'.repeat(47), 'x'.repeat(46)]) {
      const n = sweepCronJobName(name);
      expect(n.length).toBeLessThanOrEqual(52);
      expect(n).toMatch(DNS_LABEL);
      expect(n.startsWith('sweep-')).toBe(true);
      expect(sweepCronJobName(name)).toBe(n);
    }
    expect(sweepCronJobName('x'.repeat(46))).toBe(`sweep-${'x'.repeat(46)}`);
    expect(sweepCronJobName('x'.repeat(47))).toMatch(/^sweep-x{35}-[0-9a-f]{10}$/);
    expect(sweepCronJobName('a.b')).toMatch(/^sweep-a-b-[0-9a-f]{10}$/);
    expect(sweepCronJobName('a.b')).not.toBe(sweepCronJobName('a-b'));
  });
});

describe('policyLabelValue', () => {
  it('is the name when it fits a label value, else shortened with a hash', () => {
    expect(policyLabelValue('team.default')).toBe('team.default');
    const long = `${'a'.repeat(60)}.${'b'.repeat(100)}`;
    expect(policyLabelValue(long)).toMatch(LABEL_VALUE);
    expect(policyLabelValue(long).length).toBeLessThanOrEqual(63);
    expect(policyLabelValue(long)).not.toBe(policyLabelValue(`${long}c`));
  });
});

describe('buildSweepCronJob', () => {
  it('is owned by the policy and never runs two sweeps of it at once', () => {
    const cj = build({ timeZone: 'Europe/Berlin' });
    expect(cj.metadata).toMatchObject({ name: 'sweep-default', namespace: 'checkpoint-system' });
    expect(cj.metadata!.ownerReferences).toEqual([
      {
        apiVersion: 'checkpoint.example.com/v1alpha1',
        kind: 'CheckpointPolicy',
        name: 'default',
        uid: 'policy-uid-1',
        controller: true,
        blockOwnerDeletion: false,
      },
    ]);
    expect(cj.spec).toMatchObject({
      schedule: '*/15 * * * *',
      timeZone: 'Europe/Berlin',
      suspend: false,
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
    });
    expect(build().spec!.timeZone).toBeUndefined();
    expect(build({ suspend: true }).spec!.suspend).toBe(true);
  });

  it('labels the CronJob, its Jobs and their pods with the policy, without an owner namespace', () => {
    const cj = build();
    const expected = {
      [LABELS.action]: 'sweep',
      [LABELS.ownerName]: 'default',
      [LABELS.ownerUid]: 'policy-uid-1',
      [LABELS.policy]: 'default',
    };
    for (const labels of [
      cj.metadata!.labels!,
      cj.spec!.jobTemplate.metadata!.labels!,
      cj.spec!.jobTemplate.spec!.template.metadata!.labels!,
    ]) {
      expect(labels).toMatchObject(expected);
      expect(labels[LABELS.ownerNamespace]).toBeUndefined();
      for (const v of Object.values(labels)) expect(v).toMatch(LABEL_VALUE);
    }
  });

  it('runs the sweep unpinned, bounded, as its own ServiceAccount, with its input and no frozen trace', () => {
    const job = build().spec!.jobTemplate.spec!;
    expect(job).toMatchObject({ backoffLimit: 1, activeDeadlineSeconds: 30 * 60 });
    expect(job.ttlSecondsAfterFinished).toBeUndefined();
    const pod = job.template.spec!;
    expect(pod.nodeName).toBeUndefined();
    expect(pod.serviceAccountName).toBe('checkpoint-sweep');
    expect(pod.containers[0]!.command).toEqual(['/jobs/sweep']);
    const env = pod.containers[0]!.env!;
    expect(JSON.parse(env.find((e) => e.name === 'SWEEP_JOB_INPUT')!.value!)).toEqual(input);
    expect(env.find((e) => e.name === 'TRACEPARENT')).toBeUndefined();
    expect(pod.volumes).toEqual([]);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
  });

  it('mounts the policy claim writable, as root', () => {
    const pod = build({ claimName: 'archives' }).spec!.jobTemplate.spec!.template.spec!;
    expect(pod.volumes).toEqual([{ name: 'archive', persistentVolumeClaim: { claimName: 'archives' } }]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH }]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 0 });
  });

  it('mounts the S3 keys of the named Secret, readable by the non-root Job only', () => {
    const pod = build({
      secretName: 'sweep-default-s3',
      secretKeys: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'other'],
    }).spec!.jobTemplate.spec!.template.spec!;
    expect(pod.volumes).toEqual([
      {
        name: 's3-secret',
        secret: {
          secretName: 'sweep-default-s3',
          defaultMode: 0o440,
          items: [
            { key: 'AWS_ACCESS_KEY_ID', path: 'AWS_ACCESS_KEY_ID' },
            { key: 'AWS_SECRET_ACCESS_KEY', path: 'AWS_SECRET_ACCESS_KEY' },
          ],
        },
      },
    ]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 's3-secret', mountPath: S3_SECRET_DIR, readOnly: true }]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 65532, fsGroup: 65532 });
  });

  it('refuses a policy that was never stored (no uid to own the CronJob)', () => {
    expect(() => build({ policy: { ...policy('default'), metadata: { name: 'default' } } })).toThrow(/no uid/);
  });
});

describe('nextRunTime', () => {
  const now = Date.parse('2026-03-01T10:15:00Z');

  it('is the next firing strictly after now, in UTC by default', () => {
    expect(nextRunTime('*/15 * * * *', undefined, now)).toEqual(new Date('2026-03-01T10:30:00Z'));
    expect(nextRunTime('@daily', undefined, now)).toEqual(new Date('2026-03-02T00:00:00Z'));
    expect(nextRunTime('@midnight', undefined, now)).toEqual(new Date('2026-03-02T00:00:00Z'));
  });

  it('follows the time zone', () => {
    expect(nextRunTime('0 3 * * *', 'Europe/Berlin', now)).toEqual(new Date('2026-03-02T02:00:00Z'));
  });

  it('is undefined for what cannot be read', () => {
    expect(nextRunTime('0 0 30 2 *', undefined, now)).toBeUndefined();
    expect(nextRunTime('not a schedule', undefined, now)).toBeUndefined();
    expect(nextRunTime('0 3 * * *', 'Nowhere/Atlantis', now)).toBeUndefined();
  });
});
