import { describe, expect, it } from 'vitest';
import { ARCHIVE_MOUNT_PATH, S3_SECRET_DIR } from '../../src/actions/shared/storage-input.js';
import { CLEANUP_JOB_INPUT_ENV, cleanupJobInputSchema } from '../../src/actions/cleanup/job-input.js';
import { REGISTRY_SECRET_DIR } from '../../src/actions/shared/registry-secret.js';
import type { JobSettings } from '../../src/actions/shared/action-job.js';
import { buildCleanupJob, cleanupJobName } from '../../src/actions/cleanup/job.js';
import { LABELS } from '../../src/kube/names.js';
import { nodeAffinityFor, pinnedNode } from '../../src/actions/shared/action-job.js';

const checkpoint = { namespace: 'team-a', name: 'web-ckpt', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' };
const settings: JobSettings = {
  namespace: 'checkpoint-system',
  image: 'checkpoint-operator:dev',
  serviceAccountName: 'checkpoint-job',
  logLevel: 'info',
};
const name = cleanupJobName(checkpoint);
const key = `team-a/web-ckpt/${checkpoint.uid}/checkpoint-web-0_team-a-app-20261125T030000Z.tar`;

const input = (storage: unknown) => cleanupJobInputSchema.parse({ checkpoint, storage, key });
const podOf = (job: ReturnType<typeof buildCleanupJob>) => job.spec!.template.spec!;

describe('buildCleanupJob', () => {
  it('is named and labelled for its Checkpoint, and keeps retrying through a storage outage', () => {
    const job = buildCleanupJob(input({ backend: 'pvc', claimName: 'archives' }), settings, [], name);
    expect(name).toMatch(/^cleanup-web-ckpt-[0-9a-f]{10}$/);
    expect(job.metadata).toMatchObject({ name, namespace: 'checkpoint-system' });
    expect(job.metadata!.labels).toMatchObject({
      [LABELS.action]: 'cleanup',
      [LABELS.ownerNamespace]: 'team-a',
      [LABELS.ownerName]: 'web-ckpt',
      [LABELS.ownerUid]: checkpoint.uid,
    });
    expect(job.spec).toMatchObject({
      backoffLimit: 30,
      activeDeadlineSeconds: 24 * 60 * 60,
      ttlSecondsAfterFinished: 3600,
    });
    expect(podOf(job).restartPolicy).toBe('Never');
    const env = podOf(job).containers[0]!.env!.find((e) => e.name === CLEANUP_JOB_INPUT_ENV)!;
    expect(JSON.parse(env.value!)).toEqual({ checkpoint, storage: { backend: 'pvc', claimName: 'archives' }, key });
    expect(podOf(job).containers[0]!.command).toEqual(['/jobs/cleanup']);
  });

  it("pins a local cleanup to the archive's node, with the node directory writable, as root", () => {
    const job = buildCleanupJob(
      input({ backend: 'local', nodeName: 'node-b', path: '/var/lib/checkpoints' }),
      settings,
      [],
      name,
    );
    const pod = podOf(job);
    expect(pinnedNode(pod)).toBe('node-b');
    // Placed by the scheduler through a required affinity on the node's name, as DaemonSets are.
    expect(pod.nodeName).toBeUndefined();
    expect(pod.affinity).toEqual(nodeAffinityFor('node-b'));
    expect(pod.volumes).toEqual([
      { name: 'archive', hostPath: { path: '/var/lib/checkpoints', type: 'DirectoryOrCreate' } },
    ]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH }]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 0 });
  });

  it('mounts a claim writable, unpinned, as root', () => {
    const pod = podOf(buildCleanupJob(input({ backend: 'pvc', claimName: 'archives' }), settings, [], name));
    expect(pinnedNode(pod)).toBeUndefined();
    expect(pod.volumes).toEqual([{ name: 'archive', persistentVolumeClaim: { claimName: 'archives' } }]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 'archive', mountPath: ARCHIVE_MOUNT_PATH }]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 0 });
  });

  it('mounts the S3 keys its Secret holds, readable by the non-root Job only', () => {
    const storage = { backend: 's3', bucket: 'archives', credentials: 'secret', caBundle: true };
    const pod = podOf(
      buildCleanupJob(
        input(storage),
        settings,
        ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ca.crt', 'unrelated'],
        name,
      ),
    );
    expect(pinnedNode(pod)).toBeUndefined();
    expect(pod.volumes).toEqual([
      {
        name: 's3-secret',
        secret: {
          secretName: name,
          defaultMode: 0o440,
          items: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ca.crt'].map((k) => ({ key: k, path: k })),
        },
      },
    ]);
    expect(pod.containers[0]!.volumeMounts).toEqual([{ name: 's3-secret', mountPath: S3_SECRET_DIR, readOnly: true }]);
    expect(pod.securityContext).toMatchObject({ runAsUser: 65532, runAsNonRoot: true, fsGroup: 65532 });
  });

  it('mounts nothing for S3 with ambient credentials', () => {
    const pod = podOf(buildCleanupJob(input({ backend: 's3', bucket: 'archives' }), settings, [], name));
    expect(pod.volumes).toEqual([]);
  });

  it("mounts what reaches the registry holding the Checkpoint's images beside the S3 keys, each under its own directory", () => {
    const storage = { backend: 's3', bucket: 'archives', credentials: 'secret', caBundle: true };
    const pod = podOf(
      buildCleanupJob(
        input(storage),
        settings,
        ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ca.crt', '.dockerconfigjson', 'registry-ca.crt'],
        name,
      ),
    );
    expect(pod.volumes).toContainEqual({
      name: 'registry-secret',
      secret: {
        secretName: name,
        defaultMode: 0o440,
        items: [
          { key: '.dockerconfigjson', path: '.dockerconfigjson' },
          { key: 'registry-ca.crt', path: 'ca.crt' },
        ],
      },
    });
    expect(pod.containers[0]!.volumeMounts).toContainEqual({
      name: 'registry-secret',
      mountPath: REGISTRY_SECRET_DIR,
      readOnly: true,
    });
    const s3 = pod.volumes!.find((v) => v.name === 's3-secret')!;
    expect(s3.secret!.items!.map((i) => i.key)).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'ca.crt']);
  });
});
