import type { V1Job, V1JobCondition } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { jobFacts } from '../../src/dispatcher/shared/job-facts.js';
import { finishedJobSecret } from '../../src/dispatcher/finished-job-secret.js';
import { cleanupJobInputSchema } from '../../src/actions/cleanup/job-input.js';
import type { JobSettings } from '../../src/actions/shared/action-job.js';
import { withoutManagedFields } from '../../src/kube/cache-transform.js';
import { buildCheckpointJob } from '../../src/actions/checkpoint/job.js';
import { buildCleanupJob, cleanupJobName } from '../../src/actions/cleanup/job.js';
import { projectJob } from '../../src/dispatcher/job-projection.js';
import { nodeAffinityFor, pinnedNode } from '../../src/actions/shared/action-job.js';

const settings: JobSettings = {
  namespace: 'checkpoint-system',
  image: 'checkpoint-operator:dev',
  serviceAccountName: 'checkpoint-job',
  logLevel: 'info',
};
const checkpoint = { namespace: 'team-a', name: 'web-ckpt', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427' };
const target = { namespace: 'team-a', podName: 'web-0', containerName: 'app' };
const kubelet = { access: 'direct' as const, port: 10250, insecureSkipTLSVerify: false };

/** The Jobs the dispatcher makes, as the API server returns them (server fields, managedFields). */
function served(job: V1Job, status: V1Job['status']): V1Job {
  return {
    ...job,
    metadata: {
      ...job.metadata,
      uid: 'a3c1f1de-0000-4000-8000-000000000001',
      resourceVersion: '4711',
      generation: 1,
      creationTimestamp: new Date('2026-01-01T00:00:00Z'),
      managedFields: [
        {
          manager: 'checkpoint-operator',
          operation: 'Update',
          apiVersion: 'batch/v1',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:spec': {} },
        },
      ],
    },
    ...(status ? { status } : {}),
  };
}

const condition = (type: string, extra: Partial<V1JobCondition> = {}): V1JobCondition => ({
  type,
  status: 'True',
  ...extra,
});
const statuses: Record<string, V1Job['status']> = {
  none: undefined,
  running: { active: 1, startTime: new Date('2026-01-01T00:00:01Z') },
  complete: {
    succeeded: 1,
    conditions: [
      condition('SuccessCriteriaMet'),
      condition('Complete', { reason: 'CompletionsReached', message: 'Reached expected number of succeeded pods' }),
    ],
  },
  failed: {
    failed: 2,
    conditions: [
      condition('FailureTarget'),
      condition('Failed', { reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline' }),
    ],
  },
  notYet: { conditions: [condition('Complete', { status: 'False' }), condition('Failed', { status: 'False' })] },
};

const jobs: Record<string, V1Job> = {
  'checkpoint, local': buildCheckpointJob(
    {
      checkpoint,
      target,
      nodeName: 'node-a',
      kubelet,
      storage: { backend: 'local', nodeName: 'node-a', path: '/var/lib/ckpt' },
    },
    settings,
  ),
  'checkpoint, s3 with its Secret': buildCheckpointJob(
    {
      checkpoint,
      target,
      nodeName: 'node-b',
      kubelet,
      storage: { backend: 's3', bucket: 'archives', prefix: '', credentials: 'secret', caBundle: true },
    },
    settings,
  ),
  'cleanup, s3 with its Secret, unpinned': buildCleanupJob(
    cleanupJobInputSchema.parse({
      checkpoint,
      storage: { backend: 's3', bucket: 'archives', credentials: 'secret' },
      key: 'k',
    }),
    settings,
    ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'],
    cleanupJobName(checkpoint),
  ),
};

/**
 * Everything the dispatcher reads of a cached Job. When code starts reading another field from
 * the Job cache, add its reader here (and the field to projectJob).
 */
const readers: Record<string, (job: V1Job) => unknown> = {
  jobFacts: (job) => jobFacts(job),
  'finishedJobSecret (dispatcher.ts)': (job) => finishedJobSecret(job),
  'node of a Running Checkpoint (checkpoints/reconciler.ts markRunning)': (job) => pinnedNode(job.spec?.template.spec),
  'name, namespace, labels (dispatcher.ts Job handler)': (job) => [
    job.metadata?.name,
    job.metadata?.namespace,
    job.metadata?.labels,
  ],
  "resourceVersion (the cache's change test)": (job) => job.metadata?.resourceVersion,
};

describe('projectJob', () => {
  for (const [jobKind, built] of Object.entries(jobs)) {
    for (const [statusKind, status] of Object.entries(statuses)) {
      it(`keeps what the dispatcher reads: ${jobKind}, status ${statusKind}`, () => {
        const full = served(built, status);
        const projected = projectJob(structuredClone(full));
        for (const [reader, read] of Object.entries(readers)) expect(read(projected), reader).toEqual(read(full));
      });
    }
  }

  it('drops the pod template and managedFields, most of a Job', () => {
    const full = served(jobs['checkpoint, s3 with its Secret']!, statuses.complete);
    const projected = projectJob(full);
    expect(projected.metadata?.managedFields).toBeUndefined();
    expect(projected.spec?.template.spec).toEqual({
      containers: [],
      affinity: nodeAffinityFor('node-b'),
      volumes: [{ name: 's3-secret', secret: { secretName: full.metadata!.name } }],
    });
    expect(JSON.stringify(projected).length).toBeLessThan(JSON.stringify(full).length / 2);
  });

  it('leaves the Job it was given as it was', () => {
    const full = served(jobs['checkpoint, local']!, statuses.failed);
    const before = structuredClone(full);
    projectJob(full);
    expect(full).toEqual(before);
  });
});

describe('withoutManagedFields', () => {
  it('drops managedFields and nothing else, without touching its input', () => {
    const obj = {
      apiVersion: 'v1',
      kind: 'X',
      metadata: { name: 'a', labels: { x: 'y' }, managedFields: [{ manager: 'm' }] },
      spec: { a: 1 },
    };
    expect(withoutManagedFields(obj)).toEqual({
      apiVersion: 'v1',
      kind: 'X',
      metadata: { name: 'a', labels: { x: 'y' } },
      spec: { a: 1 },
    });
    expect(obj.metadata.managedFields).toHaveLength(1);
  });

  it('returns an object without managedFields as it is', () => {
    const obj = { metadata: { name: 'a' } };
    expect(withoutManagedFields(obj)).toBe(obj);
  });
});
