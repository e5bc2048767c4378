import { describe, expect, it } from 'vitest';
import type { Checkpoint, RestoreRecord } from '../../src/api/checkpoint.js';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import {
  decideRestore,
  handledMarker,
  isCheckpointName,
  RESTORE_SETTLE_MS,
  RESTORE_TIMEOUT_MS,
  ROLLBACK_TIMEOUT_MS,
  type RestoreDefaults,
  type RestorePodFacts,
} from '../../src/dispatcher/restores/decide.js';
import type { JobFacts } from '../../src/dispatcher/shared/job-facts.js';
import { restoreJobName } from '../../src/actions/restore/job.js';

const SHA = 'a'.repeat(64);
const DIGEST = `sha256:${'b'.repeat(64)}`;
const IMAGE = `registry.example.com/checkpoints@${DIGEST}`;
const NOW = Date.parse('2026-11-26T12:00:00Z');
const defaults: RestoreDefaults = {
  imageRepository: 'registry.example.com/checkpoints',
  pushSecret: undefined,
  insecureRegistry: false,
  caBundleSecret: undefined,
};

function pod(annotations: Record<string, string>, over: Partial<RestorePodFacts> = {}): RestorePodFacts {
  return {
    namespace: 'team-a',
    name: 'web-0',
    uid: 'pod-uid',
    resourceVersion: '7',
    nodeName: 'node-b',
    deleting: false,
    annotations,
    imagePullSecrets: [],
    containers: [
      { name: 'app', image: 'busybox' },
      { name: 'side', image: 'busybox' },
    ],
    statuses: [
      { name: 'app', imageID: 'sha256:old', running: true, waitingReason: undefined, waitingMessage: undefined },
    ],
    ...over,
  };
}

function checkpoint(
  over: {
    phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
    backend?: 'local' | 's3';
    restores?: RestoreRecord[];
    policyRef?: string;
  } = {},
): Checkpoint {
  const backend = over.backend ?? 's3';
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name: 'snap', namespace: 'team-a', uid: 'ckpt-uid' },
    spec: {
      target: { podName: 'web-0', containerName: 'app' },
      ...(over.policyRef ? { policyRef: over.policyRef } : {}),
      storage:
        backend === 's3'
          ? { backend: 's3', s3: { endpoint: 'minio:9000', bucket: 'b', prefix: 'p/' } }
          : { backend: 'local', local: { path: '/var/lib/checkpoint-operator/a' } },
    },
    status: {
      phase: over.phase ?? 'Succeeded',
      containerName: 'app',
      ...((over.phase ?? 'Succeeded') === 'Succeeded'
        ? {
            archive: {
              backend,
              sizeBytes: 10,
              sha256: SHA,
              createdAt: '2026-11-26T11:00:00Z',
              uri:
                backend === 's3'
                  ? 's3://b/p/team-a/snap/ckpt-uid/checkpoint-web-0_team-a-app-20261126T110000Z.tar'
                  : 'local://node-a/var/lib/checkpoint-operator/a/team-a/snap/ckpt-uid/checkpoint-web-0_team-a-app-20261126T110000Z.tar',
              key: 'team-a/snap/ckpt-uid/checkpoint-web-0_team-a-app-20261126T110000Z.tar',
              ...(backend === 'local' ? { nodeName: 'node-a' } : {}),
            },
          }
        : {}),
      ...(over.restores ? { restores: over.restores } : {}),
    },
  };
}

function policy(spec: CheckpointPolicy['spec']): { name: string; found: true; policy: CheckpointPolicy } {
  return {
    name: 'p',
    found: true,
    policy: { apiVersion: 'checkpoint.example.com/v1alpha1', kind: 'CheckpointPolicy', metadata: { name: 'p' }, spec },
  };
}

const POD = { namespace: 'team-a', name: 'web-0', uid: 'pod-uid' };
const JOB = restoreJobName(POD, 'snap', 'ckpt-uid', 0);
const inFlight = (status: string) => ({
  'checkpoint.example.com/restore-from': 'snap',
  'checkpoint.example.com/restore-handled': 'snap',
  'checkpoint.example.com/restore-status': status,
});
const record = (over: Partial<RestoreRecord> = {}): RestoreRecord => ({
  podName: 'web-0',
  namespace: 'team-a',
  podUid: 'pod-uid',
  request: 'snap',
  containerName: 'app',
  result: 'Running',
  jobName: JOB,
  startTime: new Date(NOW - 60_000).toISOString(),
  ...over,
});

const decide = (
  p: RestorePodFacts,
  c: Checkpoint | undefined,
  extra: {
    policy?: Parameters<typeof decideRestore>[0]['policy'];
    job?: JobFacts;
    defaults?: RestoreDefaults;
    now?: number;
    node?: Parameters<typeof decideRestore>[0]['node'];
  } = {},
) =>
  decideRestore({
    pod: p,
    checkpoint: c,
    policy: extra.policy,
    job: extra.job ?? { exists: false },
    defaults: extra.defaults ?? defaults,
    jobNamespace: 'ops',
    now: extra.now ?? NOW,
    node: extra.node,
  });

describe('decideRestore: a new request', () => {
  const ask = { 'checkpoint.example.com/restore-from': 'snap' };

  it('starts a Job on the pod node that pushes a tagged image for an S3 archive', () => {
    const d = decide(pod(ask), checkpoint());
    expect(d.kind).toBe('startJob');
    if (d.kind !== 'startJob') return;
    expect(d.nodeName).toBe('node-b');
    expect(d.registrySecret).toBeUndefined();
    expect(d.registryCaBundle).toBeUndefined();
    expect(d.s3Secrets).toEqual({});
    expect(d.input).toMatchObject({
      jobName: JOB,
      request: 'snap',
      containerName: 'app',
      checkpoint: { namespace: 'team-a', name: 'snap', uid: 'ckpt-uid' },
      pod: { namespace: 'team-a', name: 'web-0', uid: 'pod-uid' },
      archive: {
        key: 'team-a/snap/ckpt-uid/checkpoint-web-0_team-a-app-20261126T110000Z.tar',
        sizeBytes: 10,
        sha256: SHA,
      },
      storage: { backend: 's3', bucket: 'b', prefix: 'p/', endpoint: 'minio:9000' },
      registry: {
        repository: 'registry.example.com/checkpoints',
        insecure: false,
        credentials: 'anonymous',
        caBundle: false,
      },
    });
    expect(d.input.registry.tag).toMatch(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/);
  });

  it('runs the Job where a local archive is, not where the pod is', () => {
    const d = decide(pod(ask), checkpoint({ backend: 'local' }));
    expect(d).toMatchObject({
      kind: 'startJob',
      nodeName: 'node-a',
      input: { storage: { backend: 'local', nodeName: 'node-a', path: '/var/lib/checkpoint-operator/a' } },
    });
  });

  it("takes the repository and push Secret from the Checkpoint's policy over the defaults", () => {
    const d = decide(pod(ask), checkpoint({ policyRef: 'p' }), {
      policy: policy({
        restore: {
          strategy: 'CheckpointImage',
          imageRepository: 'reg.internal:5000/ckpt',
          insecureRegistry: true,
          pushSecretRef: { namespace: 'infra', name: 'push' },
        },
      }),
      defaults: { ...defaults, pushSecret: 'default-push' },
    });
    expect(d).toMatchObject({
      kind: 'startJob',
      registrySecret: { namespace: 'infra', name: 'push' },
      input: { registry: { repository: 'reg.internal:5000/ckpt', insecure: true, credentials: 'secret' } },
    });
  });

  it("uses the operator's push Secret and CA bundle with the operator's repository", () => {
    const d = decide(pod(ask), checkpoint(), {
      defaults: { ...defaults, pushSecret: 'default-push', caBundleSecret: 'registry-ca' },
    });
    expect(d).toMatchObject({
      kind: 'startJob',
      registrySecret: { namespace: 'ops', name: 'default-push', key: '.dockerconfigjson' },
      registryCaBundle: { namespace: 'ops', name: 'registry-ca', key: 'ca.crt' },
      input: { registry: { credentials: 'secret', caBundle: true } },
    });
  });

  it("takes the registry's CA bundle from the policy, and none of the operator's defaults beside a policy's spec.restore", () => {
    const restore = {
      strategy: 'CheckpointImage' as const,
      imageRepository: 'reg.internal/ckpt',
      insecureRegistry: false,
    };
    const withCa = decide(pod(ask), checkpoint({ policyRef: 'p' }), {
      policy: policy({
        restore: { ...restore, caBundleSecretRef: { namespace: 'infra', name: 'reg-ca', key: 'bundle.pem' } },
      }),
      defaults: { ...defaults, caBundleSecret: 'registry-ca' },
    });
    expect(withCa).toMatchObject({
      kind: 'startJob',
      registryCaBundle: { namespace: 'infra', name: 'reg-ca', key: 'bundle.pem' },
      input: { registry: { caBundle: true } },
    });
    const without = decide(pod(ask), checkpoint({ policyRef: 'p' }), {
      policy: policy({ restore }),
      defaults: { ...defaults, caBundleSecret: 'registry-ca' },
    });
    expect(without).toMatchObject({
      kind: 'startJob',
      registryCaBundle: undefined,
      input: { registry: { caBundle: false } },
    });
  });

  it.each([
    ['InvalidRequest', pod({ 'checkpoint.example.com/restore-from': '../etc/passwd' }), checkpoint(), {}],
    ['InvalidRequest', pod({ 'checkpoint.example.com/restore-from': 'Snap With Spaces' }), checkpoint(), {}],
    ['InvalidRequest', pod({ 'checkpoint.example.com/restore-from': 'team-b/snap' }), checkpoint(), {}],
    ['CheckpointNotFound', pod(ask), undefined, {}],
    ['CheckpointNotReady', pod(ask), checkpoint({ phase: 'Failed' }), {}],
    ['CheckpointNotReady', pod(ask), checkpoint({ phase: 'Pending' }), {}],
    ['CheckpointNotReady', pod(ask), checkpoint({ phase: 'Running' }), {}],
    ['ContainerNotInPod', pod(ask, { containers: [{ name: 'other', image: 'x' }] }), checkpoint(), {}],
    ['PodTerminating', pod(ask, { deleting: true }), checkpoint(), {}],
    ['PodNotScheduled', pod(ask, { nodeName: undefined }), checkpoint(), {}],
    ['NodeNotFound', pod(ask), checkpoint(), { node: null }],
    [
      'RuntimeCannotRestore',
      pod(ask),
      checkpoint(),
      {
        node: { name: 'node-a', kubeletVersion: 'v1.37.2', containerRuntimeVersion: 'containerd://2.3.7', labels: {} },
      },
    ],
    [
      'RestoreDisabledOnNode',
      pod(ask),
      checkpoint(),
      {
        node: {
          name: 'node-a',
          kubeletVersion: 'v1.37.2',
          containerRuntimeVersion: 'containerd://2.1.4',
          labels: { 'checkpoint.example.com/restore': 'disabled' },
        },
      },
    ],
    ['PolicyNotFound', pod(ask), checkpoint({ policyRef: 'p' }), { policy: { name: 'p', found: false as const } }],
    ['RestoreNotConfigured', pod(ask), checkpoint(), { defaults: { ...defaults, imageRepository: undefined } }],
    [
      'PullSecretNotInPod',
      pod(ask),
      checkpoint({ policyRef: 'p' }),
      {
        policy: policy({
          restore: {
            strategy: 'CheckpointImage',
            imageRepository: 'r.example/c',
            insecureRegistry: false,
            pullSecretName: 'pull',
          },
        }),
      },
    ],
  ])('refuses with %s and names the reason', (reason, p, c, extra) => {
    const d = decide(p, c, extra);
    expect(d).toMatchObject({ kind: 'refuse', reason, request: p.annotations['checkpoint.example.com/restore-from'] });
    expect(d.kind === 'refuse' && d.message.length).toBeGreaterThan(10);
  });

  it('makes a request asked for again after a finished attempt a new attempt with a new Job', () => {
    const d = decide(
      pod(ask),
      checkpoint({ restores: [record({ result: 'Failed' }), record({ podUid: 'other-pod', jobName: 'x' })] }),
    );
    expect(d).toMatchObject({ kind: 'startJob', input: { jobName: restoreJobName(POD, 'snap', 'ckpt-uid', 1) } });
    // A step of the same attempt retried (its record not finished yet) keeps its Job.
    expect(decide(pod(ask), checkpoint({ restores: [record({ result: 'Pending' })] }))).toMatchObject({
      kind: 'startJob',
      input: { jobName: JOB },
    });
  });

  it('acts on another value even after a finished restore', () => {
    const p = pod({ ...inFlight('Succeeded'), 'checkpoint.example.com/restore-from': 'snap-2' });
    expect(decide(p, undefined)).toMatchObject({ kind: 'refuse', reason: 'CheckpointNotFound', request: 'snap-2' });
  });
});

describe('isCheckpointName: what a restore-from value may be before any API path is made of it', () => {
  it.each([
    ['snap', true],
    ['snap.v2', true],
    ['a'.repeat(253), true],
    ['', false],
    ['team-b/snap', false],
    ['snap/status', false],
    ['..', false],
    ['%2e%2e', false],
    ['snap\n', false],
    ['a'.repeat(254), false],
  ])('%j: %s', (value, ok) => {
    expect(isCheckpointName(value)).toBe(ok);
  });
});

describe('decideRestore: one value is acted on once', () => {
  it.each(['Succeeded', 'Failed'])('does nothing for a request already %s', (status) => {
    expect(decide(pod(inFlight(status)), checkpoint())).toEqual({ kind: 'nothing' });
  });

  it('records a value too long to be a name by its digest, and answers it once', () => {
    const huge = 'x'.repeat(140_000);
    expect(handledMarker('snap')).toBe('snap');
    expect(handledMarker(huge)).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(handledMarker(huge)).not.toBe(handledMarker(`${huge}y`));
    expect(decide(pod({ 'checkpoint.example.com/restore-from': huge }), undefined)).toMatchObject({
      kind: 'refuse',
      reason: 'InvalidRequest',
    });
    const answered = {
      'checkpoint.example.com/restore-from': huge,
      'checkpoint.example.com/restore-handled': handledMarker(huge),
      'checkpoint.example.com/restore-status': 'Failed',
    };
    expect(decide(pod(answered), undefined)).toEqual({ kind: 'nothing' });
  });

  it('forgets the handled value once the request annotation is removed, and ignores pods without one', () => {
    expect(
      decide(
        pod({ 'checkpoint.example.com/restore-handled': 'snap', 'checkpoint.example.com/restore-status': 'Succeeded' }),
        checkpoint(),
      ),
    ).toEqual({ kind: 'forget' });
    expect(decide(pod({}), undefined)).toEqual({ kind: 'nothing' });
  });
});

describe('decideRestore: in flight', () => {
  it('marks the restore Running once its Job runs, then waits', () => {
    expect(
      decide(pod(inFlight('Pending')), checkpoint({ restores: [record({ result: 'Pending' })] }), {
        job: { exists: true, outcome: 'running' },
      }),
    ).toEqual({ kind: 'markRunning', request: 'snap', jobName: JOB });
    expect(
      decide(pod(inFlight('Running')), checkpoint({ restores: [record()] }), {
        job: { exists: true, outcome: 'running' },
      }).kind,
    ).toBe('wait');
  });

  it('points the container at the pushed image by digest', () => {
    const d = decide(pod(inFlight('Running')), checkpoint({ restores: [record({ image: IMAGE })] }), {
      job: { exists: true, outcome: 'complete' },
    });
    expect(d).toEqual({
      kind: 'pointContainer',
      request: 'snap',
      jobName: JOB,
      containerName: 'app',
      image: IMAGE,
      replacedContainerID: undefined,
      originalImage: 'busybox',
    });
    const running = pod(inFlight('Running'), {
      statuses: [
        {
          name: 'app',
          imageID: 'sha256:old',
          containerID: 'containerd://old',
          running: true,
          waitingReason: undefined,
          waitingMessage: undefined,
        },
      ],
    });
    expect(
      decide(running, checkpoint({ restores: [record({ image: IMAGE })] }), {
        job: { exists: true, outcome: 'complete' },
      }),
    ).toMatchObject({ kind: 'pointContainer', replacedContainerID: 'containerd://old' });
  });

  it('takes a new running container as restored when the runtime reports it under its first image (containerd)', () => {
    const c = checkpoint({ restores: [record({ image: IMAGE, replacedContainerID: 'containerd://old' })] });
    const pointed = { containers: [{ name: 'app', image: IMAGE }] };
    const status = (containerID: string, running: boolean) => ({
      statuses: [
        {
          name: 'app',
          imageID: 'registry.example.com/app@sha256:first',
          containerID,
          running,
          waitingReason: undefined,
          waitingMessage: undefined,
        },
      ],
    });
    expect(decide(pod(inFlight('Running'), { ...pointed, ...status('containerd://old', true) }), c).kind).toBe('wait');
    expect(decide(pod(inFlight('Running'), { ...pointed, ...status('containerd://new', false) }), c).kind).toBe('wait');
    expect(decide(pod(inFlight('Running'), { ...pointed, ...status('containerd://new', true) }), c)).toMatchObject({
      kind: 'succeed',
      image: IMAGE,
    });
    const notYetPointed = { containers: [{ name: 'app', image: 'busybox' }] };
    expect(decide(pod(inFlight('Running'), { ...notYetPointed, ...status('containerd://new', true) }), c).kind).toBe(
      'pointContainer',
    );
  });

  it('succeeds once the container runs from that digest, and waits until then', () => {
    const c = checkpoint({ restores: [record({ image: IMAGE })] });
    const pointed = { containers: [{ name: 'app', image: IMAGE }] };
    expect(
      decide(
        pod(inFlight('Running'), {
          ...pointed,
          statuses: [
            { name: 'app', imageID: 'sha256:old', running: true, waitingReason: undefined, waitingMessage: undefined },
          ],
        }),
        c,
      ).kind,
    ).toBe('wait');
    expect(
      decide(
        pod(inFlight('Running'), {
          ...pointed,
          statuses: [
            { name: 'app', imageID: IMAGE, running: true, waitingReason: undefined, waitingMessage: undefined },
          ],
        }),
        c,
      ),
    ).toMatchObject({ kind: 'succeed', image: IMAGE, containerName: 'app' });
  });

  it("fails with the node's reason when the kubelet cannot use the image", () => {
    const c = checkpoint({ restores: [record({ image: IMAGE })] });
    const p = pod(inFlight('Running'), {
      containers: [{ name: 'app', image: IMAGE }],
      statuses: [
        {
          name: 'app',
          imageID: undefined,
          running: false,
          waitingReason: 'CreateContainerError',
          waitingMessage: 'layer digest mismatch',
        },
      ],
    });
    const d = decide(p, c);
    expect(d).toMatchObject({ kind: 'fail', reason: 'NodeRejectedImage' });
    expect(d.kind === 'fail' && d.message).toContain('layer digest mismatch');
  });

  it('counts a restored container only once it has kept running a moment', () => {
    const c = checkpoint({
      restores: [record({ image: IMAGE, replacedContainerID: 'containerd://old', originalImage: 'busybox' })],
    });
    const running = (since: number) =>
      pod(inFlight('Running'), {
        containers: [{ name: 'app', image: IMAGE }],
        statuses: [
          {
            name: 'app',
            imageID: 'x',
            containerID: 'containerd://new',
            running: true,
            runningSince: since,
            waitingReason: undefined,
            waitingMessage: undefined,
          },
        ],
      });
    expect(decide(running(NOW - 1000), c)).toEqual({ kind: 'wait', ms: RESTORE_SETTLE_MS });
    expect(decide(running(NOW - RESTORE_SETTLE_MS), c)).toMatchObject({ kind: 'succeed' });
  });

  describe('a node that cannot run the checkpoint image: the original image goes back', () => {
    const pointedAt = (status: Partial<RestorePodFacts['statuses'][number]>, image = IMAGE) =>
      pod(inFlight('Running'), {
        containers: [{ name: 'app', image }],
        statuses: [
          {
            name: 'app',
            imageID: undefined,
            running: false,
            waitingReason: undefined,
            waitingMessage: undefined,
            ...status,
          },
        ],
      });
    const c = checkpoint({
      restores: [record({ image: IMAGE, replacedContainerID: 'containerd://old', originalImage: 'busybox' })],
    });

    it.each([
      [
        'CreateContainerError',
        { waitingReason: 'CreateContainerError', waitingMessage: 'restore via CreateContainer is disabled' },
        'NodeRejectedImage',
        'restore via CreateContainer is disabled',
      ],
      [
        'ImagePullBackOff',
        { waitingReason: 'ImagePullBackOff', waitingMessage: 'not found' },
        'NodeRejectedImage',
        'ImagePullBackOff',
      ],
      [
        'RunContainerError',
        { waitingReason: 'RunContainerError', waitingMessage: 'criu failed' },
        'NodeRejectedImage',
        'criu failed',
      ],
      [
        'a restored process that exited',
        { containerID: 'containerd://new', terminated: { exitCode: 1, reason: 'Error' } },
        'RestoredProcessExited',
        'exited (code 1, Error)',
      ],
      [
        'a restored process that keeps exiting',
        { containerID: 'containerd://new', waitingReason: 'CrashLoopBackOff', waitingMessage: 'back-off 10s' },
        'RestoredProcessExited',
        'CrashLoopBackOff',
      ],
    ])('%s: rolls back, recording why first', (_title, status, reason, words) => {
      const d = decide(pointedAt(status), c);
      expect(d).toMatchObject({
        kind: 'rollBack',
        originalImage: 'busybox',
        reason,
        recorded: false,
        containerName: 'app',
      });
      expect(d.kind === 'rollBack' && d.message).toContain(words);
    });

    it('without a recorded original image (an attempt from before they were recorded), fails as it is', () => {
      const old = checkpoint({ restores: [record({ image: IMAGE })] });
      expect(decide(pointedAt({ waitingReason: 'CreateContainerError', waitingMessage: 'x' }), old)).toMatchObject({
        kind: 'fail',
        reason: 'NodeRejectedImage',
      });
    });

    const rollingBack = checkpoint({
      restores: [
        record({
          image: IMAGE,
          replacedContainerID: 'containerd://old',
          originalImage: 'busybox',
          rollbackReason: 'NodeRejectedImage',
          rollbackMessage: 'the node could not restore container app',
          rollbackTime: new Date(NOW - 10_000).toISOString(),
          rollbackFromContainerID: 'containerd://failed',
        }),
      ],
    });

    it('puts the image back again while the pod still names the checkpoint image (a write that did not land)', () => {
      expect(decide(pointedAt({ waitingReason: 'CreateContainerError' }), rollingBack)).toMatchObject({
        kind: 'rollBack',
        recorded: true,
        originalImage: 'busybox',
      });
    });

    it("fails with the node's reason once the original image runs again in a new container, and says it rolled back", () => {
      const back = (containerID: string, running: boolean) => pointedAt({ containerID, running }, 'busybox');
      expect(decide(back('containerd://failed', true), rollingBack).kind).toBe('wait');
      expect(decide(back('containerd://old', true), rollingBack).kind).toBe('wait');
      expect(decide(back('containerd://again', false), rollingBack).kind).toBe('wait');
      expect(decide(back('containerd://again', true), rollingBack)).toEqual({
        kind: 'fail',
        request: 'snap',
        jobName: JOB,
        containerName: 'app',
        reason: 'NodeRejectedImage',
        message:
          'the node could not restore container app; rolled back: container app runs its original image busybox again',
      });
    });

    it('fails RollbackFailed when the original image does not run again in time', () => {
      const stuck = pointedAt({ waitingReason: 'ErrImagePull', waitingMessage: 'gone' }, 'busybox');
      expect(decide(stuck, rollingBack).kind).toBe('wait');
      const d = decide(stuck, rollingBack, { now: NOW - 10_000 + ROLLBACK_TIMEOUT_MS + 1 });
      expect(d).toMatchObject({ kind: 'fail', reason: 'RollbackFailed' });
      expect(d.kind === 'fail' && d.message).toContain('ErrImagePull: gone');
    });
  });

  it.each([
    [
      'ChecksumMismatch',
      checkpoint({ restores: [record({ result: 'Failed', reason: 'ChecksumMismatch', message: 'sha256 differs' })] }),
      { exists: true, outcome: 'complete' } as JobFacts,
      NOW,
    ],
    [
      'JobFailed',
      checkpoint({ restores: [record()] }),
      { exists: true, outcome: 'failed', reason: 'BackoffLimitExceeded', message: 'x' } as JobFacts,
      NOW,
    ],
    [
      'JobDeadlineExceeded',
      checkpoint({ restores: [record()] }),
      { exists: true, outcome: 'failed', reason: 'DeadlineExceeded', message: 'x' } as JobFacts,
      NOW,
    ],
    ['JobResultMissing', checkpoint({ restores: [record()] }), { exists: true, outcome: 'complete' } as JobFacts, NOW],
    ['JobLost', checkpoint({ restores: [record()] }), { exists: false } as JobFacts, NOW],
    [
      'RestoreTimedOut',
      checkpoint({ restores: [record()] }),
      { exists: true, outcome: 'running' } as JobFacts,
      NOW + RESTORE_TIMEOUT_MS,
    ],
    ['CheckpointDeleted', undefined, { exists: false } as JobFacts, NOW],
    ['RecordLost', checkpoint(), { exists: false } as JobFacts, NOW],
  ])('fails with %s', (reason, c, job, now) => {
    expect(decide(pod(inFlight('Running')), c, { job, now })).toMatchObject({ kind: 'fail', reason, request: 'snap' });
  });
});
