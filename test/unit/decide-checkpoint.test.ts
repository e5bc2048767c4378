import { describe, expect, it } from 'vitest';
import type { Checkpoint } from '../../src/api/checkpoint.js';
import type { CheckpointPolicy } from '../../src/api/checkpoint-policy.js';
import { type DecideSettings, decideCheckpoint, type PodFacts } from '../../src/dispatcher/checkpoints/decide.js';
import { jobFacts } from '../../src/dispatcher/shared/job-facts.js';

const settings: DecideSettings = {
  kubeletAccess: 'direct',
  kubeletPort: 10250,
  localStorageRoots: ['/var/lib/checkpoint-operator'],
};
const JOB = 'checkpoint-c-0123456789';

function checkpoint(spec: Partial<Checkpoint['spec']> = {}, status?: Checkpoint['status']): Checkpoint {
  return {
    apiVersion: 'checkpoint.example.com/v1alpha1',
    kind: 'Checkpoint',
    metadata: { name: 'c', namespace: 'team-a', uid: 'uid-1', generation: 1 },
    spec: {
      target: { podName: 'web-0' },
      storage: { backend: 'local', local: { path: '/var/lib/checkpoint-operator/a' } },
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}
function policy(spec: CheckpointPolicy['spec']): { name: string; found: true; policy: CheckpointPolicy } {
  return {
    name: 'p',
    found: true,
    policy: { apiVersion: 'checkpoint.example.com/v1alpha1', kind: 'CheckpointPolicy', metadata: { name: 'p' }, spec },
  };
}
const runningPod: PodFacts = {
  found: true,
  nodeName: 'node-a',
  phase: 'Running',
  deleting: false,
  containers: [{ name: 'app' }, { name: 'side' }],
  runningContainers: ['app', 'side'],
};
const decide = (c: Checkpoint, extra: Partial<Parameters<typeof decideCheckpoint>[0]> = {}) =>
  decideCheckpoint({
    checkpoint: c,
    policy: undefined,
    pod: runningPod,
    job: { exists: false },
    expectedJobName: JOB,
    settings,
    ...extra,
  });

describe('decideCheckpoint', () => {
  it('starts a Job on the pod node for the first container by default', () => {
    const d = decide(checkpoint());
    expect(d).toMatchObject({ kind: 'startJob', containerName: 'app', nodeName: 'node-a' });
    expect(d.kind === 'startJob' && d.input).toEqual({
      checkpoint: { namespace: 'team-a', name: 'c', uid: 'uid-1' },
      target: { namespace: 'team-a', podName: 'web-0', containerName: 'app' },
      nodeName: 'node-a',
      kubelet: { access: 'direct', port: 10250, insecureSkipTLSVerify: false },
      storage: { backend: 'local', nodeName: 'node-a', path: '/var/lib/checkpoint-operator/a' },
    });
  });

  it('waits while another Checkpoint is checkpointing the same container, and only that container', () => {
    const heldBy = (container: string) => (container === 'team-a/web-0/app' ? 'team-a/other' : undefined);
    expect(decide(checkpoint(), { containerHeldBy: heldBy })).toEqual({
      kind: 'waitForContainer',
      container: 'team-a/web-0/app',
      holder: 'team-a/other',
    });
    expect(
      decide(checkpoint({ target: { podName: 'web-0', containerName: 'side' } }), { containerHeldBy: heldBy }),
    ).toMatchObject({ kind: 'startJob', containerName: 'side' });
  });

  it("waits while the pod's node runs as many checkpoint Jobs as it may, after every check that could fail it", () => {
    const full = (node: string) => (node === 'node-a' ? 4 : undefined);
    expect(decide(checkpoint(), { nodeFull: full })).toEqual({ kind: 'waitForNodeSlot', node: 'node-a', running: 4 });
    expect(decide(checkpoint(), { nodeFull: full, pod: { ...runningPod, nodeName: 'node-b' } })).toMatchObject({
      kind: 'startJob',
      nodeName: 'node-b',
    });
    // A Checkpoint that cannot succeed fails at once rather than waiting for a slot first.
    expect(decide(checkpoint(), { nodeFull: full, pod: { found: false } })).toMatchObject({
      kind: 'fail',
      reason: 'PodNotFound',
    });
  });

  it('refuses before any Job where the node cannot checkpoint, and goes ahead where it can', () => {
    const node = (containerRuntimeVersion: string, labels: Record<string, string> = {}) => ({
      name: 'node-a',
      kubeletVersion: 'v1.37.2',
      containerRuntimeVersion,
      labels,
    });
    expect(decide(checkpoint(), { node: node('containerd://1.7.22') })).toMatchObject({
      kind: 'fail',
      reason: 'RuntimeCannotCheckpoint',
      message: expect.stringContaining('node node-a runs containerd 1.7.22'),
    });
    expect(
      decide(checkpoint(), { node: node('containerd://2.3.7', { 'checkpoint.example.com/checkpoint': 'disabled' }) }),
    ).toMatchObject({ kind: 'fail', reason: 'CheckpointDisabledOnNode' });
    expect(decide(checkpoint(), { node: null })).toMatchObject({
      kind: 'fail',
      reason: 'NodeNotFound',
      message: 'node node-a, where pod team-a/web-0 runs, does not exist',
    });
    // A node that cannot restore still checkpoints: the archive can be restored elsewhere.
    expect(decide(checkpoint(), { node: node('containerd://2.0.5') })).toMatchObject({
      kind: 'startJob',
      nodeName: 'node-a',
    });
  });

  it('tells the Job how to verify the kubelet: the cluster CA, a CA bundle Secret beside it, or (chosen explicitly) not at all', () => {
    const kubelet = (extra: Partial<DecideSettings>) => {
      const d = decide(checkpoint(), { settings: { ...settings, ...extra } });
      return d.kind === 'startJob' ? d.input.kubelet : undefined;
    };
    expect(kubelet({})).toEqual({ access: 'direct', port: 10250, insecureSkipTLSVerify: false });
    expect(kubelet({ kubeletCABundleSecret: 'kubelet-ca' })).toEqual({
      access: 'direct',
      port: 10250,
      insecureSkipTLSVerify: false,
      caBundleSecret: 'kubelet-ca',
    });
    expect(kubelet({ kubeletInsecureSkipTLSVerify: true })).toEqual({
      access: 'direct',
      port: 10250,
      insecureSkipTLSVerify: true,
    });
    // Through the API server, which verifies kubelets itself.
    expect(
      kubelet({ kubeletAccess: 'proxy', kubeletCABundleSecret: 'kubelet-ca', kubeletInsecureSkipTLSVerify: true }),
    ).toEqual({ access: 'proxy', port: 10250, insecureSkipTLSVerify: false });
  });

  it('fails a Running Checkpoint whose node was removed before its Job could run there, and only then', () => {
    const running = checkpoint({}, { phase: 'Running', jobName: JOB, nodeName: 'node-a' });
    const job = { exists: true as const, outcome: 'running' as const };
    expect(decide(running, { job, node: null })).toEqual({
      kind: 'jobFinishedWithoutResult',
      reason: 'NodeLost',
      message: `node node-a was removed from the cluster before Job ${JOB} could checkpoint there`,
    });
    expect(
      decide(running, {
        job,
        node: { name: 'node-a', kubeletVersion: 'v1.37.2', containerRuntimeVersion: 'containerd://2.3.7', labels: {} },
      }),
    ).toEqual({ kind: 'wait' });
    // A finished Job's result stands, node or not.
    expect(decide(running, { job: { exists: true, outcome: 'complete' }, node: null })).toMatchObject({
      reason: 'JobResultMissing',
    });
  });

  it('passes the timeout to the kubelet call', () => {
    const d = decide(checkpoint({ timeoutSeconds: 30 }));
    expect(d.kind === 'startJob' && d.input.kubelet.timeoutSeconds).toBe(30);
  });

  it('does nothing for terminal Checkpoints', () => {
    expect(decide(checkpoint({}, { phase: 'Succeeded' }))).toEqual({ kind: 'nothing' });
    expect(decide(checkpoint({}, { phase: 'Failed' }), { pod: { found: false } })).toEqual({ kind: 'nothing' });
  });

  it.each([
    ['PolicyNotFound', checkpoint({ policyRef: 'p' }), { policy: { name: 'p', found: false as const } }],
    ['CrossNamespaceDenied', checkpoint({ target: { podName: 'web-0', namespace: 'team-b' } }), {}],
    [
      'CrossNamespaceDenied',
      checkpoint({ target: { podName: 'web-0', namespace: 'team-b' }, policyRef: 'p' }),
      { policy: policy({ targetNamespaces: ['team-c'] }) },
    ],
    ['StorageNotConfigured', checkpoint({ storage: undefined, policyRef: 'p' }), { policy: policy({}) }],
    ['StorageIncomplete', checkpoint({ storage: { backend: 's3' }, policyRef: 'p' }), { policy: policy({}) }],
    ['LocalPathNotAllowed', checkpoint({ storage: { backend: 'local', local: { path: '/etc' } } }), {}],
    [
      'LocalPathNotAllowed',
      checkpoint({ storage: { backend: 'local', local: { path: '/var/lib/checkpoint-operator-evil' } } }),
      {},
    ],
    ['PodNotFound', checkpoint(), { pod: { found: false as const } }],
    ['PodTerminating', checkpoint(), { pod: { ...runningPod, deleting: true } as PodFacts }],
    ['ContainerNotFound', checkpoint({ target: { podName: 'web-0', containerName: 'main' } }), {}],
    ['ContainerNotRunning', checkpoint(), { pod: { ...runningPod, runningContainers: ['side'] } as PodFacts }],
    [
      'ContainerNotRunning',
      checkpoint(),
      { pod: { ...runningPod, phase: 'Pending', nodeName: undefined } as PodFacts },
    ],
    ['InvalidSpec', checkpoint({ target: { podName: 'Not A Name' } }), {}],
  ])('fails with %s', (reason, c, extra) => {
    const d = decide(c, extra);
    expect(d).toMatchObject({ kind: 'fail', reason });
    expect(d.kind === 'fail' && d.message.length).toBeGreaterThan(10);
  });

  it('allows another namespace when the policy lists it', () => {
    const d = decide(checkpoint({ target: { podName: 'web-0', namespace: 'team-b' }, policyRef: 'p' }), {
      policy: policy({ targetNamespaces: ['team-b'] }),
    });
    expect(d).toMatchObject({ kind: 'startJob', input: { target: { namespace: 'team-b' } } });
  });

  it('takes storage from the policy and names the template claim', () => {
    const d = decide(checkpoint({ storage: undefined, policyRef: 'p' }), {
      policy: policy({
        storage: {
          backend: 'pvc',
          pvcTemplate: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
        },
      }),
    });
    expect(d.kind === 'startJob' && d.input.storage).toEqual({ backend: 'pvc', claimName: 'checkpoint-archives-p' });
  });

  it('never passes S3 credentials references into the Job input', () => {
    const d = decide(
      checkpoint({ storage: { backend: 's3', s3: { bucket: 'b', credentialsSecretRef: { name: 'creds' } } } }),
    );
    expect(d.kind === 'startJob' && JSON.stringify(d.input)).not.toContain('creds');
  });

  it("plans the S3 Secrets: a Checkpoint's in its own namespace, a policy's where it says", () => {
    const own = decide(
      checkpoint({
        storage: {
          backend: 's3',
          s3: { bucket: 'bkt', credentialsSecretRef: { name: 'creds' }, caBundleSecretRef: { name: 'ca' } },
        },
      }),
    );
    expect(own.kind === 'startJob' && own.s3Secrets).toEqual({
      credentials: { namespace: 'team-a', name: 'creds' },
      caBundle: { namespace: 'team-a', name: 'ca', key: 'ca.crt' },
    });
    const fromPolicy = decide(checkpoint({ storage: { s3: { prefix: 'mine/' } }, policyRef: 'p' }), {
      policy: policy({
        storage: {
          backend: 's3',
          s3: { bucket: 'bkt', credentialsSecretRef: { name: 'shared', namespace: 'storage' } },
        },
      }),
    });
    expect(fromPolicy.kind === 'startJob' && fromPolicy.s3Secrets).toEqual({
      credentials: { namespace: 'storage', name: 'shared' },
    });
    expect(fromPolicy.kind === 'startJob' && fromPolicy.input.storage).toEqual({
      backend: 's3',
      bucket: 'bkt',
      prefix: 'mine/',
      credentials: 'ambient',
      caBundle: false,
    });
    const none = decide(checkpoint({ storage: { backend: 's3', s3: { bucket: 'bkt' } } }));
    expect(none.kind === 'startJob' && none.s3Secrets).toEqual({});
    expect(decide(checkpoint())).not.toHaveProperty('s3Secrets');
  });

  it('follows the Job once it exists', () => {
    const running = checkpoint({}, { phase: 'Running', jobName: JOB });
    expect(decide(checkpoint(), { job: { exists: true, outcome: 'running' } })).toEqual({
      kind: 'markRunning',
      jobName: JOB,
    });
    expect(decide(running, { job: { exists: true, outcome: 'running' } })).toEqual({ kind: 'wait' });
    expect(decide(running, { job: { exists: true, outcome: 'complete' } })).toMatchObject({
      kind: 'jobFinishedWithoutResult',
      reason: 'JobResultMissing',
    });
    expect(
      decide(running, {
        job: {
          exists: true,
          outcome: 'failed',
          reason: 'DeadlineExceeded',
          message: 'Job was active longer than specified deadline',
        },
      }),
    ).toMatchObject({ kind: 'jobFinishedWithoutResult', reason: 'JobDeadlineExceeded' });
    expect(
      decide(running, { job: { exists: true, outcome: 'failed', reason: 'BackoffLimitExceeded', message: undefined } }),
    ).toMatchObject({ kind: 'jobFinishedWithoutResult', reason: 'JobFailed' });
  });

  it('fails a Running Checkpoint whose Job is gone', () => {
    expect(decide(checkpoint({}, { phase: 'Running', jobName: JOB }))).toMatchObject({
      kind: 'fail',
      reason: 'JobLost',
    });
  });
});

describe('jobFacts', () => {
  it('reads terminal conditions', () => {
    expect(jobFacts(undefined)).toEqual({ exists: false });
    expect(jobFacts({ status: {} })).toEqual({ exists: true, outcome: 'running' });
    expect(jobFacts({ status: { conditions: [{ type: 'Complete', status: 'True' }] } } as never)).toEqual({
      exists: true,
      outcome: 'complete',
    });
    expect(
      jobFacts({
        status: { conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'm' }] },
      } as never),
    ).toEqual({ exists: true, outcome: 'failed', reason: 'BackoffLimitExceeded', message: 'm' });
  });
});
