import { describe, expect, it } from 'vitest';
import { resolveStorage } from '../../src/api/resolve-storage.js';
import type { PolicyStorage } from '../../src/api/storage.js';

const template = { accessModes: ['ReadWriteOnce' as const], resources: { requests: { storage: '10Gi' } } };
const policy = (storage: PolicyStorage | undefined) => ({ name: 'default-policy', storage });

describe('resolveStorage', () => {
  it('uses the Checkpoint alone when there is no policy', () => {
    expect(resolveStorage({ backend: 'local', local: { path: '/data' } }, undefined)).toEqual({
      ok: true,
      storage: { backend: 'local', local: { path: '/data' } },
    });
  });

  it('uses the policy alone when the Checkpoint sets nothing', () => {
    expect(resolveStorage(undefined, policy({ backend: 'pvc', pvcTemplate: template }))).toEqual({
      ok: true,
      storage: { backend: 'pvc', pvc: { template, policyName: 'default-policy' } },
    });
  });

  it("lets the Checkpoint's backend override the policy's (the seed examples)", () => {
    const r = resolveStorage(
      { backend: 's3', s3: { endpoint: 's3.example.com', bucket: 'checkpoints', prefix: 'my-app/' } },
      policy({ backend: 'pvc', pvcTemplate: template }),
    );
    expect(r).toEqual({
      ok: true,
      storage: { backend: 's3', s3: { endpoint: 's3.example.com', bucket: 'checkpoints', prefix: 'my-app/' } },
    });
  });

  it('merges s3 settings field by field, the Checkpoint winning', () => {
    const r = resolveStorage(
      { s3: { prefix: 'team-b/', forcePathStyle: false } },
      policy({
        backend: 's3',
        s3: { endpoint: 'minio:9000', bucket: 'ckpt', prefix: 'default/', forcePathStyle: true, region: 'eu-west-1' },
      }),
    );
    expect(r).toEqual({
      ok: true,
      storage: {
        backend: 's3',
        s3: { endpoint: 'minio:9000', bucket: 'ckpt', prefix: 'team-b/', forcePathStyle: false, region: 'eu-west-1' },
      },
    });
  });

  it('keeps the policy value when the Checkpoint field is explicitly undefined', () => {
    const r = resolveStorage(
      { s3: { bucket: undefined, prefix: 'x/' } },
      policy({ backend: 's3', s3: { bucket: 'ckpt' } }),
    );
    expect(r.ok && r.storage.backend === 's3' && r.storage.s3.bucket).toBe('ckpt');
  });

  it('takes the local path from the policy and overrides it from the Checkpoint', () => {
    expect(resolveStorage({ backend: 'local' }, policy({ backend: 'local', local: { path: '/policy' } }))).toEqual({
      ok: true,
      storage: { backend: 'local', local: { path: '/policy' } },
    });
    expect(
      resolveStorage({ local: { path: '/mine' } }, policy({ backend: 'local', local: { path: '/policy' } })),
    ).toEqual({ ok: true, storage: { backend: 'local', local: { path: '/mine' } } });
  });

  it('prefers an existing claim over the template', () => {
    expect(resolveStorage({ pvc: { claimName: 'mine' } }, policy({ backend: 'pvc', pvcTemplate: template }))).toEqual({
      ok: true,
      storage: { backend: 'pvc', pvc: { claimName: 'mine' } },
    });
  });

  it('fails clearly when neither configures storage', () => {
    expect(resolveStorage(undefined, undefined)).toEqual({
      ok: false,
      reason: 'StorageNotConfigured',
      message: 'no storage configured: set spec.storage or spec.policyRef',
    });
    const r = resolveStorage(undefined, policy(undefined));
    expect(r.ok).toBe(false);
    expect(!r.ok && r.reason).toBe('StorageNotConfigured');
    expect(!r.ok && r.message).toContain('CheckpointPolicy default-policy');
  });

  it('fails clearly when the merged backend is incomplete', () => {
    const cases = [
      [{ backend: 's3' as const }, policy({ backend: 'pvc', pvcTemplate: template }), 'backend s3 needs s3.bucket'],
      [
        { backend: 'local' as const },
        policy({ backend: 'pvc', pvcTemplate: template }),
        'backend local needs local.path',
      ],
      [
        { backend: 'pvc' as const },
        policy({ backend: 'local', local: { path: '/x' } }),
        'backend pvc needs pvc.claimName',
      ],
    ] as const;
    for (const [ckpt, pol, message] of cases) {
      const r = resolveStorage(ckpt, pol);
      expect(r).toMatchObject({ ok: false, reason: 'StorageIncomplete' });
      expect(!r.ok && r.message).toContain(message);
    }
  });

  it("never borrows another backend's section from the policy", () => {
    // The policy's pvcTemplate must not make an s3 Checkpoint valid, nor its s3 bucket a local one.
    expect(resolveStorage({ backend: 'local' }, policy({ backend: 's3', s3: { bucket: 'abc' } })).ok).toBe(false);
  });
});
