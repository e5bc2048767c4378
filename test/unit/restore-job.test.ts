import { describe, expect, it } from 'vitest';
import { ARCHIVE_MOUNT_PATH, S3_SECRET_DIR } from '../../src/actions/shared/storage-input.js';
import { RESTORE_JOB_INPUT_ENV, restoreJobInputSchema } from '../../src/actions/restore/job-input.js';
import { REGISTRY_SECRET_DIR } from '../../src/actions/shared/registry-secret.js';
import type { JobSettings } from '../../src/actions/shared/action-job.js';
import { buildRestoreJob, restoreJobName } from '../../src/actions/restore/job.js';
import { pinnedNode } from '../../src/actions/shared/action-job.js';

const pod = { namespace: 'team-a', name: 'web-0', uid: 'pod-uid' };
const settings: JobSettings = {
  namespace: 'checkpoint-system',
  image: 'checkpoint-operator:dev',
  serviceAccountName: 'checkpoint-job',
  logLevel: 'info',
};
const jobName = restoreJobName(pod, 'snap', 'ckpt-uid', 0);
const SHA = 'c'.repeat(64);

const input = (storage: unknown, registry: Record<string, unknown> = {}) =>
  restoreJobInputSchema.parse({
    jobName,
    request: 'snap',
    checkpoint: { namespace: 'team-a', name: 'snap', uid: 'ckpt-uid' },
    pod,
    containerName: 'app',
    archive: {
      key: 'team-a/snap/ckpt-uid/a.tar',
      uri: 's3://archives/team-a/snap/ckpt-uid/a.tar',
      sizeBytes: 10,
      sha256: SHA,
      createdAt: '2026-11-26T11:00:00Z',
    },
    storage,
    registry: { repository: 'registry.internal/checkpoints', tag: 'team-a-snap', ...registry },
  });
const podOf = (job: ReturnType<typeof buildRestoreJob>) => job.spec!.template.spec!;

describe('buildRestoreJob', () => {
  it('runs an S3 restore as non-root, with every Secret file readable through its group', () => {
    const job = buildRestoreJob(
      input(
        { backend: 's3', bucket: 'archives', credentials: 'secret', caBundle: true },
        { credentials: 'secret', caBundle: true },
      ),
      settings,
      ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ca.crt', '.dockerconfigjson', 'registry-ca.crt'],
      'node-b',
    );
    const spec = podOf(job);
    expect(pinnedNode(spec)).toBe('node-b');
    expect(spec.nodeName).toBeUndefined();
    expect(spec.securityContext).toMatchObject({ runAsUser: 65532, runAsNonRoot: true, fsGroup: 65532 });
    // Secret files belong to root: a 0400 file could not be opened by the Job's user.
    expect(spec.volumes).toEqual([
      {
        name: 's3-secret',
        secret: {
          secretName: jobName,
          defaultMode: 0o440,
          items: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ca.crt'].map((k) => ({ key: k, path: k })),
        },
      },
      // The registry's CA has a key of its own in the per-Job Secret, and its usual file name where the Job reads it.
      {
        name: 'registry-secret',
        secret: {
          secretName: jobName,
          defaultMode: 0o440,
          items: [
            { key: '.dockerconfigjson', path: '.dockerconfigjson' },
            { key: 'registry-ca.crt', path: 'ca.crt' },
          ],
        },
      },
    ]);
    expect(spec.containers[0]!.volumeMounts).toEqual([
      { name: 's3-secret', mountPath: S3_SECRET_DIR, readOnly: true },
      { name: 'registry-secret', mountPath: REGISTRY_SECRET_DIR, readOnly: true },
    ]);
    const env = spec.containers[0]!.env!.find((e) => e.name === RESTORE_JOB_INPUT_ENV)!;
    expect(JSON.parse(env.value!).registry).toEqual({
      repository: 'registry.internal/checkpoints',
      tag: 'team-a-snap',
      insecure: false,
      credentials: 'secret',
      caBundle: true,
    });
  });

  it('reads a local archive as root, where it lies, with owner-only Secret files', () => {
    const job = buildRestoreJob(
      input({ backend: 'local', path: '/var/lib/checkpoint-operator/a', nodeName: 'node-a' }, { caBundle: true }),
      settings,
      ['registry-ca.crt'],
      'node-a',
    );
    const spec = podOf(job);
    expect(pinnedNode(spec)).toBe('node-a');
    expect(spec.securityContext).toMatchObject({ runAsUser: 0 });
    expect(spec.volumes).toEqual([
      { name: 'archive', hostPath: { path: '/var/lib/checkpoint-operator/a', type: 'Directory' } },
      {
        name: 'registry-secret',
        secret: { secretName: jobName, defaultMode: 0o400, items: [{ key: 'registry-ca.crt', path: 'ca.crt' }] },
      },
    ]);
    expect(spec.containers[0]!.volumeMounts).toContainEqual({
      name: 'archive',
      mountPath: ARCHIVE_MOUNT_PATH,
      readOnly: true,
    });
  });

  it('mounts no Secret for an anonymous push of an archive read with ambient credentials', () => {
    const spec = podOf(
      buildRestoreJob(
        input({ backend: 's3', bucket: 'archives', credentials: 'ambient', caBundle: false }),
        settings,
        [],
        'node-b',
      ),
    );
    expect(spec.volumes).toEqual([]);
    expect(spec.containers[0]!.volumeMounts).toEqual([]);
  });
});
