import { describe, expect, it } from 'vitest';
import { jobName, ownerLabels } from '../../src/kube/names.js';

const owner = { namespace: 'default', name: 'my-app-checkpoint', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' };
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe('jobName', () => {
  it('is deterministic and readable', () => {
    expect(jobName('checkpoint', owner)).toBe(jobName('checkpoint', owner));
    expect(jobName('checkpoint', owner)).toMatch(/^checkpoint-my-app-checkpoint-[0-9a-f]{10}$/);
  });

  it('differs by action, namespace, uid and discriminator', () => {
    const names = new Set([
      jobName('checkpoint', owner),
      jobName('cleanup', owner),
      jobName('checkpoint', { ...owner, namespace: 'other' }),
      jobName('checkpoint', { ...owner, uid: 'another-uid' }),
      jobName('restore', owner, 'pod-a'),
      jobName('restore', owner, 'pod-b'),
    ]);
    expect(names.size).toBe(6);
  });

  it('stays within 63 characters and a DNS label for the longest names', () => {
    const long = { ...owner, name: `a${'b'.repeat(61)}-` };
    for (const action of ['checkpoint', 'restore', 'cleanup'] as const) {
      const name = jobName(action, long);
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(DNS_LABEL);
    }
  });

  it('makes label values that the API server accepts', () => {
    for (const v of Object.values(ownerLabels('checkpoint', { ...owner, name: 'x'.repeat(63) })))
      expect(v).toMatch(LABEL_VALUE);
  });
});
