import { describe, expect, it } from 'vitest';
import { decodeWorkKey, encodeWorkKey, type WorkKey } from '../../src/dispatcher/work-key.js';

describe('work keys', () => {
  const keys: WorkKey[] = [
    { kind: 'checkpoint', namespace: 'team-a', name: 'nightly.1' },
    { kind: 'restore', namespace: 'team-a', name: 'nightly.1' },
    { kind: 'policy', name: 'default-policy' },
    { kind: 'finishedJobs' },
  ];

  it('decodes each key to what was encoded', () => {
    for (const key of keys) expect(decodeWorkKey(encodeWorkKey(key))).toEqual(key);
  });

  it('gives a Checkpoint and a restore of a pod with the same name different keys, so neither is deduplicated into the other', () => {
    expect(encodeWorkKey(keys[0]!)).not.toBe(encodeWorkKey(keys[1]!));
  });

  it('refuses a string no key encodes to', () => {
    expect(() => decodeWorkKey('team-a/nightly')).toThrow('not a work key');
  });
});
