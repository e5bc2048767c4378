import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { clusterContext } from '../e2e/support/cluster-context.js';
import { renderChart, RELEASE_NAMESPACE } from './support/helm.js';
import { type KubeObject, objectsByIdentity, withoutHelmLabels } from './support/rendered-objects.js';

/**
 * The chart and manifests/ are two ways to install the same operator: for the same settings they
 * must render the same objects (kinds, names, namespaces, specs), Helm's own labels aside. Each
 * non-default setting is compared with the kustomize overlay docs/install.md describes for it.
 */
const manifests = join(import.meta.dirname, '../../manifests');
const run = promisify(execFile);

/**
 * `kubectl kustomize` (the real kubectl's) of an overlay of `resources` (paths under manifests/)
 * with `rest` (images, patches), written to a fresh directory.
 */
async function kustomize(resources: string[], rest: Record<string, unknown> = {}): Promise<Record<string, KubeObject>> {
  const dir = await mkdtemp(join(tmpdir(), 'overlay-'));
  // Kustomize takes bases by relative path only; the files of manifests/rbac/optional then lie
  // outside the overlay's root, which needs the load restrictor off.
  const kustomization = {
    apiVersion: 'kustomize.config.k8s.io/v1beta1',
    kind: 'Kustomization',
    resources: resources.map((r) => relative(dir, join(manifests, r))),
    ...rest,
  };
  await writeFile(join(dir, 'kustomization.yaml'), stringify(kustomization));
  const { stdout } = await run(clusterContext().kubectl, ['kustomize', '--load-restrictor=LoadRestrictionsNone', dir], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return objectsByIdentity(stdout);
}

/**
 * The chart's objects as manifests/ has them: without Helm's labels, and without the keep
 * annotation (checked first) on the namespace and, when crds.keep, the CRDs: manifests/ has no
 * uninstall to survive.
 */
function comparable(objects: Record<string, KubeObject>, crdsKept: boolean): Record<string, KubeObject> {
  return Object.fromEntries(
    Object.entries(objects).map(([key, obj]) => {
      let o = withoutHelmLabels(obj);
      if (o.kind === 'Namespace' || (crdsKept && o.kind === 'CustomResourceDefinition')) {
        expect(o.metadata.annotations, key).toEqual({ 'helm.sh/resource-policy': 'keep' });
        const { annotations: _keep, ...metadata } = o.metadata;
        o = { ...o, metadata };
      }
      return [key, o];
    }),
  );
}

const DIGEST = `sha256:${'ab'.repeat(32)}`;

describe('the Helm chart renders what manifests/ renders', () => {
  it('with the default values: manifests/default (CRDs, RBAC, Deployment, Service, PDB, Namespace)', async () => {
    const chart = objectsByIdentity(await renderChart());
    const kustomized = await kustomize(['default']);
    expect(Object.keys(chart).sort()).toEqual(Object.keys(kustomized).sort());
    expect(comparable(chart, true)).toEqual(kustomized);
  });

  it('with the Prometheus objects switched on: manifests/default plus manifests/prometheus', async () => {
    const chart = objectsByIdentity(
      await renderChart({
        prometheus: {
          serviceMonitor: { enabled: true },
          pushgatewayServiceMonitor: { enabled: true },
          prometheusRule: { enabled: true },
        },
      }),
    );
    const kustomized = await kustomize(['default', 'prometheus']);
    expect(Object.keys(chart).sort()).toEqual(Object.keys(kustomized).sort());
    expect(comparable(chart, true)).toEqual(kustomized);
  });

  it('with settings, a pinned digest, a pull Secret, proxy kubelet access and unkept CRDs: the overlay docs/install.md describes', async () => {
    const chart = objectsByIdentity(
      await renderChart({
        image: { digest: DIGEST, pullSecrets: ['registry-pull'] },
        watchNamespaces: ['team-a', 'team-b'],
        logLevel: 'debug',
        restore: { imageRepository: 'registry.example.com/checkpoints', pushSecret: 'registry-push' },
        kubelet: { access: 'proxy' },
        pushgatewayUrl: 'http://pushgateway.monitoring.svc:9091',
        otel: { endpoint: 'http://otel-collector.monitoring:4318' },
        crds: { keep: false },
      }),
    );
    const env = '/spec/template/spec/containers/0/env';
    const kustomized = await kustomize(['default', 'rbac/optional'], {
      images: [{ name: 'registry.example.com/checkpoint-operator', digest: DIGEST }],
      patches: [
        {
          target: { kind: 'Deployment', name: 'checkpoint-operator' },
          patch: stringify([
            { op: 'test', path: `${env}/0/name`, value: 'WATCH_NAMESPACE' },
            { op: 'replace', path: `${env}/0/value`, value: 'team-a,team-b' },
            { op: 'test', path: `${env}/5/name`, value: 'RESTORE_IMAGE_REPOSITORY' },
            { op: 'replace', path: `${env}/5/value`, value: 'registry.example.com/checkpoints' },
            { op: 'add', path: `${env}/-`, value: { name: 'LOG_LEVEL', value: 'debug' } },
            { op: 'add', path: `${env}/-`, value: { name: 'RESTORE_PUSH_SECRET', value: 'registry-push' } },
            { op: 'add', path: `${env}/-`, value: { name: 'KUBELET_ACCESS', value: 'proxy' } },
            {
              op: 'add',
              path: `${env}/-`,
              value: { name: 'PUSHGATEWAY_URL', value: 'http://pushgateway.monitoring.svc:9091' },
            },
            {
              op: 'add',
              path: `${env}/-`,
              value: { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.monitoring:4318' },
            },
          ]),
        },
        {
          target: { kind: 'ServiceAccount' },
          patch: stringify([{ op: 'add', path: '/imagePullSecrets', value: [{ name: 'registry-pull' }] }]),
        },
      ],
    });
    expect(Object.keys(chart).sort()).toEqual(Object.keys(kustomized).sort());
    expect(comparable(chart, false)).toEqual(kustomized);
    // The node proxy role is the optional file's, bound to the Jobs' ServiceAccount.
    expect(chart[`ClusterRoleBinding /checkpoint-operator-job-node-proxy`]).toMatchObject({
      subjects: [{ kind: 'ServiceAccount', name: 'checkpoint-operator-job', namespace: RELEASE_NAMESPACE }],
    });
  });
});
