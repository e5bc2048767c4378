import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { kubectl } from './support/kube.js';

const root = join(import.meta.dirname, '../..');
const NS = 'checkpoint-operator-system';
const MANAGER = `system:serviceaccount:${NS}:checkpoint-operator-controller-manager`;
const JOB = `system:serviceaccount:${NS}:checkpoint-operator-job`;
const CLEANUP = `system:serviceaccount:${NS}:checkpoint-operator-cleanup`;
const SWEEP = `system:serviceaccount:${NS}:checkpoint-operator-sweep`;

/** resource may name a subresource as `resource/subresource` (kubectl alone would read it as a name). */
async function canI(as: string, verb: string, resource: string, namespace?: string): Promise<boolean> {
  const [type, subresource] = resource.split('/');
  const args = [
    'auth',
    'can-i',
    verb,
    type!,
    ...(subresource ? ['--subresource', subresource] : []),
    '--as',
    as,
    ...(namespace ? ['-n', namespace] : ['--all-namespaces']),
  ];
  try {
    return (await kubectl(args)).trim() === 'yes';
  } catch (err) {
    // kubectl auth can-i exits 1 for "no".
    if (String((err as { stdout?: string }).stdout ?? '').trim() === 'no') return false;
    throw err;
  }
}

describe('manifests/default', () => {
  it('renders the optional Prometheus Operator objects with kustomize', async () => {
    const rendered = parseAllDocuments(await kubectl(['kustomize', join(root, 'manifests/prometheus')])).map((d) =>
      d.toJS(),
    );
    expect(
      rendered.map((o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`).sort(),
    ).toEqual([
      'PrometheusRule/checkpoint-operator',
      'ServiceMonitor/checkpoint-operator',
      'ServiceMonitor/checkpoint-operator-pushgateway',
    ]);
  });

  it('renders with kustomize and holds the Deployment of the original product description', async () => {
    const rendered = parseAllDocuments(await kubectl(['kustomize', join(root, 'manifests/default')])).map((d) =>
      d.toJS(),
    );
    const deployment = rendered.find((o) => o.kind === 'Deployment');
    expect(deployment.metadata).toMatchObject({ name: 'checkpoint-operator', namespace: NS });
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.selector.matchLabels).toEqual({ 'control-plane': 'controller-manager' });
    const pod = deployment.spec.template.spec;
    expect(pod.serviceAccountName).toBe('checkpoint-operator-controller-manager');
    const manager = pod.containers[0];
    expect(manager.image).toBe('registry.example.com/checkpoint-operator:v1.0.0');
    expect(manager.command).toEqual(['/manager']);
    expect(manager.args).toEqual(['--leader-elect']);
    const env = Object.fromEntries(manager.env.map((e: { name: string }) => [e.name, e]));
    expect(env.WATCH_NAMESPACE).toEqual({ name: 'WATCH_NAMESPACE', value: '' });
    expect(env.POD_NAME.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    expect(env.OPERATOR_NAME.value).toBe('checkpoint-operator');
    // The limits are the original description's; the memory request is the measured one (docs/install.md, the table of what it creates).
    expect(manager.resources).toEqual({
      limits: { cpu: '500m', memory: '512Mi' },
      requests: { cpu: '100m', memory: '300Mi' },
    });
    expect(manager.livenessProbe.httpGet.path).toBe('/healthz');
    expect(manager.readinessProbe.httpGet.path).toBe('/readyz');
    expect(rendered.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(
      expect.arrayContaining([
        `Namespace/${NS}`,
        'CustomResourceDefinition/checkpoints.checkpoint.example.com',
        'CustomResourceDefinition/checkpointpolicies.checkpoint.example.com',
        'ServiceAccount/checkpoint-operator-controller-manager',
        'ServiceAccount/checkpoint-operator-job',
        'Service/checkpoint-operator-metrics',
        'PodDisruptionBudget/checkpoint-operator',
      ]),
    );
  });

  it('is accepted whole by the API server', async () => {
    const out = await kubectl(['apply', '--server-side', '--dry-run=server', '-k', join(root, 'manifests/default')]);
    expect(out).toContain('deployment.apps/checkpoint-operator serverside-applied');
    await kubectl([
      'wait',
      '--for=jsonpath={.metadata.name}=checkpoint-operator',
      '-n',
      NS,
      'deployment/checkpoint-operator',
      '--timeout=30s',
    ]);
  });

  it('gives the dispatcher what it needs and no more', async () => {
    expect(await canI(MANAGER, 'watch', 'checkpoints.checkpoint.example.com')).toBe(true);
    expect(await canI(MANAGER, 'patch', 'checkpoints.checkpoint.example.com/status')).toBe(true);
    expect(await canI(MANAGER, 'create', 'jobs.batch', NS)).toBe(true);
    expect(await canI(MANAGER, 'update', 'leases.coordination.k8s.io', NS)).toBe(true);
    expect(await canI(MANAGER, 'create', 'jobs.batch', 'default')).toBe(false);
    // Secrets: read one by name (what a Checkpoint or policy names for S3), never list or watch
    // them; write them only in its own namespace (the per-Job copies).
    expect(await canI(MANAGER, 'get', 'secrets', 'default')).toBe(true);
    expect(await canI(MANAGER, 'list', 'secrets', 'default')).toBe(false);
    expect(await canI(MANAGER, 'watch', 'secrets')).toBe(false);
    expect(await canI(MANAGER, 'create', 'secrets', 'default')).toBe(false);
    expect(await canI(MANAGER, 'update', 'secrets', 'default')).toBe(false);
    expect(await canI(MANAGER, 'create', 'secrets', NS)).toBe(true);
    expect(await canI(MANAGER, 'list', 'secrets', NS)).toBe(false);
    expect(await canI(MANAGER, 'create', 'pods')).toBe(false);
    // Restores: the pod's annotations and its container's image; never exec, delete or evict.
    expect(await canI(MANAGER, 'patch', 'pods', 'default')).toBe(true);
    expect(await canI(MANAGER, 'delete', 'pods', 'default')).toBe(false);
    expect(await canI(MANAGER, 'create', 'pods/exec', 'default')).toBe(false);
    expect(await canI(MANAGER, 'create', 'pods/eviction', 'default')).toBe(false);
    expect(await canI(MANAGER, 'delete', 'checkpoints.checkpoint.example.com')).toBe(false);
    expect(await canI(MANAGER, 'create', 'nodes/checkpoint')).toBe(false);
    // The secure metrics port asks who a scraper is and whether it may read /metrics.
    expect(await canI(MANAGER, 'create', 'tokenreviews.authentication.k8s.io')).toBe(true);
    expect(await canI(MANAGER, 'create', 'subjectaccessreviews.authorization.k8s.io')).toBe(true);
    expect(await canI(MANAGER, 'create', 'serviceaccounts/token', NS)).toBe(false);
  });

  it('serves metrics on the authenticated port only, and lets readers be granted them', async () => {
    const rendered = parseAllDocuments(await kubectl(['kustomize', join(root, 'manifests/default')])).map((d) =>
      d.toJS(),
    );
    const manager = rendered.find((o) => o.kind === 'Deployment')!.spec.template.spec.containers[0];
    const env = Object.fromEntries(manager.env.map((e: { name: string; value?: string }) => [e.name, e.value]));
    expect([env.METRICS_SECURE_PORT, env.METRICS_BIND_ADDRESS]).toEqual(['8443', '127.0.0.1']);
    const service = rendered.find((o) => o.kind === 'Service' && o.metadata.name === 'checkpoint-operator-metrics')!;
    expect(service.spec.ports).toEqual([{ name: 'https', port: 8443, targetPort: 'https' }]);
    const reader = rendered.find(
      (o) => o.kind === 'ClusterRole' && o.metadata.name === 'checkpoint-operator-metrics-reader',
    )!;
    expect(reader.rules).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
  });

  it('confines the Job identity to the kubelet checkpoint API and Checkpoint status', async () => {
    expect(await canI(JOB, 'create', 'nodes/checkpoint')).toBe(true);
    expect(await canI(JOB, 'patch', 'checkpoints.checkpoint.example.com/status')).toBe(true);
    expect(await canI(JOB, 'get', 'nodes/proxy')).toBe(false);
    expect(await canI(JOB, 'create', 'nodes/proxy')).toBe(false);
    expect(await canI(JOB, 'get', 'secrets')).toBe(false);
    expect(await canI(JOB, 'patch', 'checkpoints.checkpoint.example.com')).toBe(false);
    expect(await canI(JOB, 'create', 'pods/exec')).toBe(false);
    // A restore Job prepares the image; pointing the pod at it is the dispatcher's step.
    expect(await canI(JOB, 'patch', 'pods', 'default')).toBe(false);
  });

  it('lets cleanup Jobs report on Checkpoints and nothing else', async () => {
    expect(await canI(CLEANUP, 'get', 'checkpoints.checkpoint.example.com')).toBe(true);
    expect(await canI(CLEANUP, 'patch', 'checkpoints.checkpoint.example.com/status')).toBe(true);
    expect(await canI(CLEANUP, 'delete', 'checkpoints.checkpoint.example.com')).toBe(false);
    expect(await canI(CLEANUP, 'create', 'nodes/checkpoint')).toBe(false);
    expect(await canI(CLEANUP, 'get', 'secrets')).toBe(false);
  });

  it('lets sweep Jobs list and delete Checkpoints and write policy status, but not create or change them', async () => {
    expect(await canI(SWEEP, 'list', 'checkpoints.checkpoint.example.com')).toBe(true);
    expect(await canI(SWEEP, 'delete', 'checkpoints.checkpoint.example.com', 'default')).toBe(true);
    expect(await canI(SWEEP, 'patch', 'checkpointpolicies.checkpoint.example.com/status')).toBe(true);
    expect(await canI(SWEEP, 'create', 'checkpoints.checkpoint.example.com', 'default')).toBe(false);
    expect(await canI(SWEEP, 'patch', 'checkpoints.checkpoint.example.com', 'default')).toBe(false);
    expect(await canI(SWEEP, 'patch', 'checkpoints.checkpoint.example.com/status', 'default')).toBe(false);
    expect(await canI(SWEEP, 'patch', 'checkpointpolicies.checkpoint.example.com')).toBe(false);
    expect(await canI(SWEEP, 'create', 'nodes/checkpoint')).toBe(false);
    expect(await canI(SWEEP, 'get', 'secrets')).toBe(false);
  });

  it('lets namespace editors create Checkpoints but not policies', async () => {
    await kubectl(['create', 'namespace', 'team-a']);
    await kubectl(['create', 'rolebinding', 'alice-edit', '--clusterrole=edit', '--user=alice', '-n', 'team-a']);
    // Aggregation is asynchronous: the clusterrole-aggregation controller fills in the edit role.
    await expect
      .poll(() => canI('alice', 'create', 'checkpoints.checkpoint.example.com', 'team-a'), { timeout: 30_000 })
      .toBe(true);
    expect(await canI('alice', 'create', 'checkpoints.checkpoint.example.com', 'default')).toBe(false);
    expect(await canI('alice', 'create', 'checkpointpolicies.checkpoint.example.com')).toBe(false);
    expect(await canI('alice', 'patch', 'checkpoints.checkpoint.example.com/status', 'team-a')).toBe(false);
  });
});
