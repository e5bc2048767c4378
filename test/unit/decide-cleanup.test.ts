import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import { ARCHIVE_FINALIZER } from '../../src/api/constants.js';
import { decideCleanup } from '../../src/dispatcher/checkpoints/decide-cleanup.js';
import type { JobFacts } from '../../src/dispatcher/shared/job-facts.js';

const ROOTS = ['/var/lib/checkpoint-operator'];
const NO_JOB: JobFacts = { exists: false };
const SHA = 'a'.repeat(64);
const KEY = 'team-a/c/uid-1/checkpoint-web-0_team-a-app-20261126T120000Z.tar';

function deleting(
  spec: Partial<Checkpoint['spec']>,
  status?: Checkpoint['status'],
  finalizers = [ARCHIVE_FINALIZER],
): Checkpoint {
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name: 'c', namespace: 'team-a', uid: 'uid-1', deletionTimestamp: new Date(), finalizers },
    spec: { target: { podName: 'web-0' }, ...spec },
    ...(status ? { status } : {}),
  };
}
const localSpec = { storage: { backend: 'local' as const, local: { path: '/var/lib/checkpoint-operator/a' } } };
const stored = (backend: 'local' | 'pvc' | 's3', uri: string): Checkpoint['status'] => ({
  phase: 'Succeeded',
  jobName: 'checkpoint-c-x',
  nodeName: 'node-a',
  archive: {
    backend,
    uri,
    key: KEY,
    sizeBytes: 10,
    sha256: SHA,
    createdAt: '2026-11-26T12:00:00Z',
    ...(backend === 'local' ? { nodeName: 'node-a' } : {}),
  },
});
function policy(spec: CheckpointPolicy['spec']): { name: string; found: true; policy: CheckpointPolicy } {
  return {
    name: 'p',
    found: true,
    policy: { apiVersion: 'checkpoint.example.com/v1alpha1', kind: 'CheckpointPolicy', metadata: { name: 'p' }, spec },
  };
}
const decide = (c: Checkpoint, extra: Partial<Parameters<typeof decideCleanup>[0]> = {}) =>
  decideCleanup({
    checkpoint: c,
    policy: undefined,
    checkpointJob: NO_JOB,
    cleanupJob: NO_JOB,
    localStorageRoots: ROOTS,
    ...extra,
  });

describe('decideCleanup', () => {
  it('does nothing for a Checkpoint not being deleted, or without the finalizer', () => {
    const live = {
      ...deleting(localSpec),
      metadata: { name: 'c', namespace: 'team-a', uid: 'uid-1', finalizers: [ARCHIVE_FINALIZER] },
    };
    expect(decide(live)).toEqual({ kind: 'nothing' });
    expect(decide(deleting(localSpec, undefined, []))).toEqual({ kind: 'nothing' });
  });

  it('lets a Checkpoint that never ran a Job go at once', () => {
    expect(decide(deleting(localSpec, { phase: 'Failed', reason: 'PodNotFound' }))).toMatchObject({
      kind: 'release',
      archive: 'none',
    });
  });

  it('deletes a local archive on the node and under the directory it was written to', () => {
    const d = decide(deleting(localSpec, stored('local', `local://node-b/var/lib/checkpoint-operator/old/${KEY}`)));
    expect(d).toEqual({
      kind: 'startJob',
      nodeName: 'node-b',
      keptImages: [],
      input: {
        checkpoint: { namespace: 'team-a', name: 'c', uid: 'uid-1' },
        storage: { backend: 'local', nodeName: 'node-b', path: '/var/lib/checkpoint-operator/old' },
        key: KEY,
      },
    });
  });

  it('never touches a recorded local directory outside the allowed roots', () => {
    expect(decide(deleting(localSpec, stored('local', `local://node-a/etc/${KEY}`)))).toMatchObject({
      kind: 'hold',
      reason: 'LocalPathNotAllowed',
    });
  });

  it('reaches S3 with the current settings, in the bucket and prefix the archive was written to', () => {
    const spec = {
      storage: {
        backend: 's3' as const,
        s3: {
          endpoint: 'https://s3.example.com',
          bucket: 'new',
          prefix: 'x/',
          credentialsSecretRef: { name: 'creds' },
        },
      },
    };
    const d = decide(deleting(spec, stored('s3', `s3://old/team/${KEY}`)));
    expect(d).toMatchObject({
      kind: 'startJob',
      nodeName: undefined,
      s3Secrets: { credentials: { namespace: 'team-a', name: 'creds' } },
      input: {
        storage: { backend: 's3', endpoint: 'https://s3.example.com', bucket: 'old', prefix: 'team/' },
        key: KEY,
      },
    });
  });

  it('finds a pvc archive in the claim it was written to', () => {
    const d = decide(deleting({ policyRef: 'p' }, stored('pvc', `pvc://claim-a/${KEY}`)), {
      policy: policy({ storage: { backend: 'pvc', pvc: { claimName: 'claim-b' } } }),
    });
    expect(d).toMatchObject({ kind: 'startJob', input: { storage: { backend: 'pvc', claimName: 'claim-a' } } });
  });

  it('waits while the checkpoint Job runs or a restore reads the archive', () => {
    const c = deleting(localSpec, stored('local', `local://node-a/var/lib/checkpoint-operator/a/${KEY}`));
    expect(decide(c, { checkpointJob: { exists: true, outcome: 'running' } })).toMatchObject({
      kind: 'hold',
      reason: 'CheckpointInProgress',
    });
    const restoring = {
      ...c,
      status: { ...c.status!, restores: [{ podName: 'web-1', namespace: 'team-a', result: 'Running' as const }] },
    };
    expect(decide(restoring)).toMatchObject({ kind: 'hold', reason: 'RestoreInFlight' });
  });

  it('keeps the archive when the policy retains archives', () => {
    const d = decide(deleting({ policyRef: 'p' }, stored('pvc', `pvc://claim-a/${KEY}`)), {
      policy: policy({
        storage: { backend: 'pvc', pvc: { claimName: 'claim-a' } },
        retention: { reclaimPolicy: 'Retain', schedule: '*/15 * * * *', suspend: false, deleteOrphans: false },
      }),
    });
    expect(d).toMatchObject({ kind: 'release', archive: 'retained' });
  });

  it('waits visibly when the policy that says how to reach S3 is gone', () => {
    const d = decide(deleting({ policyRef: 'p' }, stored('s3', `s3://b/${KEY}`)), {
      policy: { name: 'p', found: false },
    });
    expect(d).toMatchObject({ kind: 'hold', reason: 'PolicyNotFound' });
  });

  it('still cleans a node directory or a claim after their policy is gone: the URI names them', () => {
    const gone = { policy: { name: 'p', found: false as const } };
    expect(decide(deleting({ policyRef: 'p' }, stored('pvc', `pvc://claim-a/${KEY}`)), gone)).toMatchObject({
      kind: 'startJob',
      input: { storage: { backend: 'pvc', claimName: 'claim-a' }, key: KEY },
    });
    expect(
      decide(
        deleting({ policyRef: 'p' }, stored('local', `local://node-a/var/lib/checkpoint-operator/a/${KEY}`)),
        gone,
      ),
    ).toMatchObject({
      kind: 'startJob',
      nodeName: 'node-a',
      input: { storage: { backend: 'local', nodeName: 'node-a', path: '/var/lib/checkpoint-operator/a' } },
    });
  });

  it('waits visibly when the storage settings no longer name the backend the archive is on', () => {
    expect(decide(deleting(localSpec, stored('s3', `s3://b/${KEY}`)))).toMatchObject({
      kind: 'hold',
      reason: 'StorageChanged',
    });
  });

  it('follows the cleanup Job: releases once it completed, starts it again once it failed', () => {
    const c = deleting(localSpec, stored('local', `local://node-a/var/lib/checkpoint-operator/a/${KEY}`));
    expect(decide(c, { cleanupJob: { exists: true, outcome: 'running' } })).toEqual({ kind: 'nothing' });
    expect(decide(c, { cleanupJob: { exists: true, outcome: 'complete' } })).toMatchObject({
      kind: 'release',
      archive: 'deleted',
    });
    expect(
      decide(c, {
        cleanupJob: { exists: true, outcome: 'failed', reason: 'BackoffLimitExceeded', message: undefined },
      }),
    ).toMatchObject({ kind: 'retryJob' });
  });

  describe('checkpoint images pushed by restores', () => {
    const IMAGE_1 = `registry.internal/checkpoints@sha256:${'1'.repeat(64)}`;
    const IMAGE_2 = `registry.internal/checkpoints@sha256:${'2'.repeat(64)}`;
    const ELSEWHERE = `127.0.0.1:5000/checkpoints@sha256:${'3'.repeat(64)}`;
    const restored = (image: string | undefined, podName = 'web-0', result: 'Succeeded' | 'Failed' = 'Succeeded') => ({
      podName,
      namespace: 'team-a',
      podUid: `${podName}-uid`,
      result,
      ...(image ? { image } : {}),
    });
    const withRestores = (...restores: ReturnType<typeof restored>[]) =>
      deleting(localSpec, { ...stored('local', `local://node-a/var/lib/checkpoint-operator/a/${KEY}`), restores });
    const restore = {
      strategy: 'CheckpointImage' as const,
      imageRepository: 'registry.internal/checkpoints',
      insecureRegistry: false,
    };

    it('go with the archive, once each, with the Secrets of the registry the policy names', () => {
      const c = {
        ...withRestores(
          restored(IMAGE_1),
          restored(IMAGE_1, 'web-1'),
          restored(IMAGE_2, 'web-0', 'Failed'),
          restored(undefined),
          restored('not a reference'),
        ),
        spec: { target: { podName: 'web-0' }, ...localSpec, policyRef: 'p' },
      };
      const d = decide(c, {
        policy: policy({
          restore: {
            ...restore,
            pushSecretRef: { name: 'push', namespace: 'infra' },
            caBundleSecretRef: { name: 'ca', namespace: 'infra' },
          },
        }),
        jobNamespace: 'ops',
      });
      expect(d).toMatchObject({
        kind: 'startJob',
        keptImages: [],
        registrySecrets: {
          credentials: { namespace: 'infra', name: 'push', key: '.dockerconfigjson' },
          caBundle: { namespace: 'infra', name: 'ca', key: 'ca.crt' },
        },
        input: {
          registryCredentials: true,
          images: [
            { reference: IMAGE_1, insecure: false, caBundle: true },
            { reference: IMAGE_2, insecure: false, caBundle: true },
          ],
        },
      });
    });

    it("use the operator's defaults without a policy, and apply a registry's settings only to images on it", () => {
      const d = decide(withRestores(restored(IMAGE_1), restored(ELSEWHERE)), {
        restoreDefaults: {
          imageRepository: '127.0.0.1:5000/checkpoints',
          pushSecret: undefined,
          insecureRegistry: true,
          caBundleSecret: undefined,
        },
        jobNamespace: 'ops',
      });
      expect(d).toMatchObject({
        kind: 'startJob',
        input: {
          registryCredentials: false,
          images: [
            { reference: IMAGE_1, insecure: false, caBundle: false },
            { reference: ELSEWHERE, insecure: true, caBundle: false },
          ],
        },
      });
      expect(d.kind === 'startJob' && d.registrySecrets).toBeUndefined();
    });

    it('keep an image a restored pod still runs, and say which pod', () => {
      const d = decide(withRestores(restored(IMAGE_1), restored(IMAGE_2, 'web-1')), {
        imagesInUse: new Map([[IMAGE_2, 'team-a/web-1']]),
      });
      expect(d).toMatchObject({
        kind: 'startJob',
        keptImages: [{ reference: IMAGE_2, pod: 'team-a/web-1' }],
        input: { images: [{ reference: IMAGE_1 }] },
      });
      const allInUse = decide(withRestores(restored(IMAGE_2, 'web-1')), {
        imagesInUse: new Map([[IMAGE_2, 'team-a/web-1']]),
      });
      expect(allInUse.kind === 'startJob' && allInUse.input.images).toBeUndefined();
    });

    it('stay with the archive when the policy retains archives', () => {
      const c = {
        ...withRestores(restored(IMAGE_1)),
        spec: { target: { podName: 'web-0' }, ...localSpec, policyRef: 'p' },
      };
      expect(
        decide(c, {
          policy: policy({
            restore,
            retention: { reclaimPolicy: 'Retain', schedule: '*/15 * * * *', suspend: false, deleteOrphans: false },
          }),
        }),
      ).toMatchObject({ kind: 'release', archive: 'retained' });
    });
  });
});
