import { describe, expect, it } from 'vitest';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import { decidePolicy, isKnownTimeZone } from '../../src/dispatcher/policies/decide.js';

const NOW = Date.parse('2026-11-26T12:07:30Z');
function policy(spec: CheckpointPolicy['spec'], name = 'default-policy'): CheckpointPolicy {
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'CheckpointPolicy',
    metadata: { name, uid: 'p-uid' },
    spec,
  };
}
const retention = (r: Partial<NonNullable<CheckpointPolicy['spec']['retention']>>) =>
  ({ schedule: '*/15 * * * *', suspend: false, reclaimPolicy: 'Delete', deleteOrphans: false, ...r }) as NonNullable<
    CheckpointPolicy['spec']['retention']
  >;

describe('decidePolicy', () => {
  it('schedules a sweep for a policy with limits, with the next run time', () => {
    const d = decidePolicy(policy({ retention: retention({ maxCount: 5, maxAge: '72h' }) }), 'ops', NOW);
    expect(d).toMatchObject({
      kind: 'sweep',
      cronJobName: 'sweep-default-policy',
      schedule: '*/15 * * * *',
      suspend: false,
      storage: undefined,
    });
    expect(d.kind === 'sweep' && d.nextSweepTime?.toISOString()).toBe('2026-11-26T12:15:00.000Z');
  });

  it('makes no sweep for a policy without limits', () => {
    expect(decidePolicy(policy({ retention: retention({}) }), 'ops', NOW)).toMatchObject({ kind: 'noSweep' });
    expect(decidePolicy(policy({}), 'ops', NOW)).toMatchObject({ kind: 'noSweep' });
  });

  it('lists the claim of a pvc policy, made from its template', () => {
    const d = decidePolicy(
      policy({
        retention: retention({ maxCount: 2 }),
        storage: {
          backend: 'pvc',
          pvcTemplate: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      } as CheckpointPolicy['spec']),
      'ops',
      NOW,
    );
    expect(d).toMatchObject({
      kind: 'sweep',
      storage: { backend: 'pvc', claimName: 'checkpoint-archives-default-policy' },
      templateClaim: 'checkpoint-archives-default-policy',
    });
  });

  it('lists an S3 policy with its credentials copied from where the policy names them', () => {
    const d = decidePolicy(
      policy({
        retention: retention({ maxAge: '1h' }),
        storage: {
          backend: 's3',
          s3: { bucket: 'b', prefix: 'p/', credentialsSecretRef: { name: 'creds', namespace: 'team-a' } },
        },
      } as CheckpointPolicy['spec']),
      'ops',
      NOW,
    );
    expect(d).toMatchObject({
      kind: 'sweep',
      storage: { backend: 's3', bucket: 'b', prefix: 'p/' },
      s3Secrets: { credentials: { namespace: 'team-a', name: 'creds' } },
    });
  });

  it('has no next run while suspended', () => {
    const d = decidePolicy(policy({ retention: retention({ maxCount: 1, suspend: true }) }), 'ops', NOW);
    expect(d).toMatchObject({ kind: 'sweep', suspend: true, nextSweepTime: undefined });
  });

  it('refuses a schedule cron-parser cannot read', () => {
    expect(
      decidePolicy(policy({ retention: retention({ maxCount: 1, schedule: '61 * * * *' }) }), 'ops', NOW),
    ).toMatchObject({ kind: 'invalid', reason: 'InvalidSchedule' });
  });

  it('refuses a time zone the API server would refuse in the CronJob', () => {
    const d = decidePolicy(policy({ retention: retention({ maxCount: 1, timeZone: 'Mars/Olympus' }) }), 'ops', NOW);
    expect(d).toMatchObject({ kind: 'invalid', reason: 'InvalidTimeZone' });
    expect(d.kind === 'invalid' && d.message).toContain('Mars/Olympus');
    expect(
      decidePolicy(policy({ retention: retention({ maxCount: 1, timeZone: 'Europe/Paris' }) }), 'ops', NOW),
    ).toMatchObject({ kind: 'sweep', timeZone: 'Europe/Paris' });
  });

  it.each([
    ['Europe/Paris', true],
    ['UTC', true],
    ['Etc/GMT+5', true],
    ['US/Eastern', true],
    ['Asia/Calcutta', true],
    ['Mars/Olympus', false],
    ['europe/paris', false],
    ['Local', false],
    ['+01', false],
    ['', false],
  ])('knows time zone %j: %s', (zone, known) => {
    expect(isKnownTimeZone(zone)).toBe(known);
  });
});
