import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { runWorkload, waitForTerminal } from '../e2e/support/checkpoints.js';
import { kubectl } from '../e2e/support/kube.js';
import { MetricsScraper, operatorPodIPs } from '../e2e/support/metrics-scraper.js';
import { CHECKPOINT_NODE, nodeRoot } from '../e2e/support/nodes.js';
import { CHART, helm, helmRefusal, RELEASE, RELEASE_NAMESPACE, valuesFile } from './support/helm.js';
import { expectRestoredAndContinuing } from './support/install-checks.js';

/**
 * The chart as a user runs it, with the real helm against the install project's cluster (which
 * starts with nothing of the operator): lint, refusal of bad values, install, a real checkpoint,
 * an upgrade that changes settings and the CRDs, and an uninstall that leaves nothing behind but
 * the CRDs the chart's docs say it keeps (removed here afterwards, for the next install test).
 */
const NS = 'helm-chart-e2e';
/** Where the upgrade moves the Jobs (jobNamespace): made beforehand, labelled, as docs/install.md says. */
const JOB_NS = 'helm-chart-jobs';
const OPERATOR_CRDS = ['checkpoints.checkpoint.example.com', 'checkpointpolicies.checkpoint.example.com'];
/** The operator image as the cluster's registry holds it, pinned by digest as docs/install.md advises. */
const image = () => ({ repository: 'registry.example.com/checkpoint-operator', digest: inject('operatorImageDigest') });

interface Meta {
  metadata: { generation?: number; labels?: Record<string, string>; annotations?: Record<string, string> };
}
interface Container {
  image: string;
  env?: { name: string; value?: string }[];
}
interface DeploymentView extends Meta {
  metadata: Meta['metadata'] & { generation: number };
  spec: { replicas: number; template: { spec: { containers: Container[] } } };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number };
}
interface PodView extends Meta {
  metadata: Meta['metadata'] & { deletionTimestamp?: string };
  spec: { containers: Container[] };
}
interface CrdView extends Meta {
  spec: { names: { categories: string[] } };
}

/**
 * A kubernetes.io/tls Secret in the release namespace holding a certificate for `host`, as
 * cert-manager would make one for the metrics endpoint (metrics.certSecret).
 */
async function metricsCertificateSecret(name: string, host: string): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'metrics-tls-'));
  const [crt, key] = [join(dir, 'tls.crt'), join(dir, 'tls.key')];
  await promisify(execFile)('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${host}`,
    '-addext',
    `subjectAltName=DNS:${host}`,
    '-keyout',
    key,
    '-out',
    crt,
  ]);
  await kubectl(['create', 'secret', 'tls', name, '-n', RELEASE_NAMESPACE, `--cert=${crt}`, `--key=${key}`]);
}

const json = async <T>(args: string[]): Promise<T> => JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
const getDeployment = () => json<DeploymentView>(['get', 'deployment', 'checkpoint-operator', '-n', RELEASE_NAMESPACE]);

async function poll<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function checkpointYaml(name: string): string {
  return `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  target:
    podName: app
    namespace: ${NS}
    containerName: main
  storage:
    backend: local
    local:
      path: /var/lib/checkpoint-operator/archives
`;
}

/** Checkpoints `app` and returns the archive's path on this machine once it Succeeded. */
async function checkpointSucceeds(name: string): Promise<string> {
  await kubectl(['apply', '-f', '-'], checkpointYaml(name));
  const c = await waitForTerminal(NS, name, 180_000);
  expect(c.status, JSON.stringify(c.status)).toMatchObject({ phase: 'Succeeded', nodeName: CHECKPOINT_NODE });
  const uri = c.status!.archive!.uri;
  const path = new RegExp(`^local://${CHECKPOINT_NODE}(/var/lib/checkpoint-operator/archives/.+\\.tar)$`).exec(uri);
  expect(path, uri).not.toBeNull();
  const file = join(nodeRoot(CHECKPOINT_NODE), path![1]!);
  expect((await stat(file)).size).toBe(c.status!.archive!.sizeBytes);
  return file;
}

/** The operator's Deployment once every replica runs its current template. */
async function rolledOut(): Promise<DeploymentView> {
  await kubectl(['rollout', 'status', '-n', RELEASE_NAMESPACE, 'deployment/checkpoint-operator', '--timeout=180s']);
  return poll('the old replicas to go', async () => {
    const d = await getDeployment();
    const s = d.status ?? {};
    const done =
      s.observedGeneration === d.metadata.generation &&
      s.replicas === d.spec.replicas &&
      s.updatedReplicas === d.spec.replicas &&
      s.availableReplicas === d.spec.replicas;
    return done ? d : undefined;
  });
}

const managerEnv = (d: DeploymentView): Record<string, string> =>
  Object.fromEntries((d.spec.template.spec.containers[0]!.env ?? []).map((e) => [e.name, e.value ?? '']));

/** Every object named checkpoint-operator… of these kinds, in any namespace. */
async function leftovers(kinds: string): Promise<string[]> {
  const list = await json<{ items: { kind: string; metadata: { name: string; namespace?: string } }[] }>([
    'get',
    kinds,
    '-A',
  ]);
  return list.items
    .filter((o) => o.metadata.name.startsWith('checkpoint-operator'))
    .map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
}

afterAll(async () => {
  // Whatever a failed test left: the next install test file starts from a cluster without the operator.
  await helm(['uninstall', RELEASE, '-n', RELEASE_NAMESPACE, '--wait', '--timeout', '3m']).catch(() => undefined);
  await kubectl(['delete', 'namespace', NS, '--ignore-not-found', '--wait=true', '--timeout=120s']).catch(
    () => undefined,
  );
  await kubectl(['delete', 'namespace', JOB_NS, '--ignore-not-found', '--wait=true', '--timeout=120s']).catch(
    () => undefined,
  );
  await kubectl(['delete', 'crd', ...OPERATOR_CRDS, '--ignore-not-found', '--timeout=120s']).catch(() => undefined);
  await kubectl(['delete', 'namespace', RELEASE_NAMESPACE, '--ignore-not-found', '--timeout=120s']).catch(
    () => undefined,
  );
});

describe('the Helm chart with the real helm', () => {
  it('passes helm lint --strict', async () => {
    const out = await helm(['lint', '--strict', CHART]);
    expect(out).toContain('1 chart(s) linted, 0 chart(s) failed');
  });

  it('refuses bad values in template, lint and install, naming the value', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ logLevel: 'verbose' }, /at '\/logLevel': value must be one of/],
      [{ image: { digest: 'sha256:abc' } }, /at '\/image\/digest': 'sha256:abc' does not match pattern/],
      [{ watchNamespaces: ['Team_A'] }, /at '\/watchNamespaces\/0': 'Team_A' does not match pattern/],
      [{ kubelet: { port: 70000 } }, /at '\/kubelet\/port': maximum/],
      [{ storage: { localRoots: ['relative/dir'] } }, /at '\/storage\/localRoots\/0': 'relative\/dir' does not match/],
      // A misspelt key would otherwise be ignored silently.
      [{ replica: 1 }, /additional properties 'replica' not allowed/],
      // Settings that contradict each other: the schema names the one to change.
      [
        { restore: { insecureRegistry: true, caBundleSecret: 'registry-ca' } },
        /at '\/restore\/caBundleSecret': value must be ''/,
      ],
      [{ replicas: 2, leaderElection: { enabled: false } }, /at '\/leaderElection\/enabled': value must be true/],
      [
        { kubelet: { access: 'proxy', caBundleSecret: 'kubelet-ca' } },
        /at '\/kubelet\/caBundleSecret': value must be ''/,
      ],
    ];
    for (const [values, message] of cases) {
      const file = await valuesFile(values);
      expect(await helmRefusal(['template', RELEASE, CHART, '-f', file]), JSON.stringify(values)).toMatch(message);
      expect(await helmRefusal(['lint', CHART, '-f', file]), JSON.stringify(values)).toMatch(message);
    }
    // Without the schema (--skip-schema-validation) the chart still refuses, with the operator's reason.
    expect(
      await helmRefusal([
        'template',
        RELEASE,
        CHART,
        '--skip-schema-validation',
        '-f',
        await valuesFile({ restore: { insecureRegistry: true, caBundleSecret: 'registry-ca' } }),
      ]),
    ).toMatch(/restore\.insecureRegistry=true \(plain HTTP\) contradicts restore\.caBundleSecret \(verified TLS\)/);
    const refused = await helmRefusal([
      'install',
      RELEASE,
      CHART,
      '-n',
      RELEASE_NAMESPACE,
      '--create-namespace',
      '-f',
      await valuesFile({ logLevel: 'verbose' }),
    ]);
    expect(refused).toMatch(/at '\/logLevel'/);
    // Refused before anything reached the cluster.
    expect((await helm(['list', '-A', '-q'])).trim()).toBe('');
    expect((await kubectl(['get', 'namespace', RELEASE_NAMESPACE, '--ignore-not-found'])).trim()).toBe('');
  });

  it('installs into the namespace it creates, labelled for Pod Security, and rolls out', async () => {
    await helm([
      'install',
      RELEASE,
      CHART,
      '-n',
      RELEASE_NAMESPACE,
      '--create-namespace',
      '-f',
      // Restores push checkpoint images to the cluster's registry (plain HTTP, as test registries are).
      await valuesFile({
        image: image(),
        restore: { imageRepository: `${inject('registryHost')}/checkpoints`, insecureRegistry: true },
      }),
      '--wait',
      '--timeout',
      '5m',
    ]);
    const d = await rolledOut();
    expect(d.spec.replicas).toBe(2);
    expect(d.spec.template.spec.containers[0]!.image).toBe(
      `registry.example.com/checkpoint-operator@${inject('operatorImageDigest')}`,
    );
    expect(d.metadata.labels).toMatchObject({
      'app.kubernetes.io/managed-by': 'Helm',
      'helm.sh/chart': 'checkpoint-operator-1.0.0',
    });
    const ns = await json<Meta>(['get', 'namespace', RELEASE_NAMESPACE]);
    expect(ns.metadata.labels).toMatchObject({ 'pod-security.kubernetes.io/enforce': 'privileged' });
    expect(ns.metadata.annotations).toMatchObject({ 'meta.helm.sh/release-name': RELEASE });
    for (const crd of OPERATOR_CRDS) {
      await kubectl(['wait', '--for=condition=Established', '--timeout=60s', `crd/${crd}`]);
    }
    const lease = await poll('a leader', async () => {
      const l = await json<{ spec?: { holderIdentity?: string } }>([
        'get',
        'lease',
        'checkpoint-operator-leader',
        '-n',
        RELEASE_NAMESPACE,
      ]).catch(() => undefined);
      return l?.spec?.holderIdentity ? l : undefined;
    });
    expect(lease.spec!.holderIdentity).toMatch(/^checkpoint-operator-/);
  });

  it('checkpoints a running container on node-a to local storage, and restores the process from it', async () => {
    await kubectl(['create', 'namespace', NS]);
    await runWorkload(NS, 'app', { nodeName: CHECKPOINT_NODE });
    await checkpointSucceeds('before-upgrade');
    await expectRestoredAndContinuing(NS, 'app', 'before-upgrade');
  });

  it('upgrades: new settings (log level, replicas, jobNamespace, a metrics certificate) roll out, the changed CRDs are applied', async () => {
    // The next chart version, whose Checkpoint CRD has one more category: Helm must apply it
    // (it never would from a chart's crds/ directory).
    const next = join(await mkdtemp(join(tmpdir(), 'chart-next-')), 'checkpoint-operator');
    await cp(CHART, next, { recursive: true });
    const chartYaml = join(next, 'Chart.yaml');
    await writeFile(chartYaml, (await readFile(chartYaml, 'utf8')).replace(/^version: .*$/m, 'version: 1.0.1'));
    const crdTemplate = join(next, 'templates/crds/checkpoints.checkpoint.example.com.yaml');
    const crdText = await readFile(crdTemplate, 'utf8');
    expect(crdText).toContain('    categories:\n      - checkpoint\n');
    await writeFile(
      crdTemplate,
      crdText.replace(
        '    categories:\n      - checkpoint\n',
        '    categories:\n      - checkpoint\n      - checkpoint-next\n',
      ),
    );
    const before = await getDeployment();
    await metricsCertificateSecret('metrics-tls', 'metrics.helm-chart.example');
    await kubectl(['create', 'namespace', JOB_NS]);
    await kubectl(['label', 'namespace', JOB_NS, 'pod-security.kubernetes.io/enforce=privileged']);

    await helm([
      'upgrade',
      RELEASE,
      next,
      '-n',
      RELEASE_NAMESPACE,
      '-f',
      await valuesFile({
        image: image(),
        logLevel: 'debug',
        replicas: 1,
        jobNamespace: JOB_NS,
        metrics: { certSecret: 'metrics-tls' },
      }),
      '--wait',
      '--timeout',
      '5m',
    ]);

    const d = await rolledOut();
    expect(d.metadata.generation).toBeGreaterThan(before.metadata.generation);
    expect(d.spec.replicas).toBe(1);
    expect(managerEnv(before).LOG_LEVEL).toBeUndefined();
    expect(managerEnv(d)).toMatchObject({ LOG_LEVEL: 'debug', JOB_NAMESPACE: JOB_NS });
    // The Jobs' ServiceAccounts and the dispatcher's Role went with them.
    expect(await leftovers('serviceaccounts,roles,rolebindings')).toEqual(
      expect.arrayContaining([
        `ServiceAccount ${JOB_NS}/checkpoint-operator-job`,
        `ServiceAccount ${JOB_NS}/checkpoint-operator-cleanup`,
        `ServiceAccount ${JOB_NS}/checkpoint-operator-sweep`,
        `Role ${JOB_NS}/checkpoint-operator-manager-role`,
        `RoleBinding ${JOB_NS}/checkpoint-operator-manager-rolebinding`,
      ]),
    );
    const pods = await json<{ items: PodView[] }>([
      'get',
      'pods',
      '-n',
      RELEASE_NAMESPACE,
      '-l',
      'control-plane=controller-manager',
    ]);
    const running = pods.items.filter((p) => !p.metadata.deletionTimestamp);
    expect(running).toHaveLength(1);
    expect(running[0]!.spec.containers[0]!.env).toContainEqual({ name: 'LOG_LEVEL', value: 'debug' });
    // The secure metrics endpoint serves the mounted certificate instead of a self-signed one.
    const scraper = await MetricsScraper.start(NS, 'scraper', 'scraper');
    const [ip] = await operatorPodIPs();
    const scrape = await scraper.get(`https://${ip}:8443/metrics`, 'none');
    expect(scrape.certificate, JSON.stringify(scrape)).toBe('DNS:metrics.helm-chart.example');
    // Its server ignores SIGTERM: without this the namespace's deletion would wait out the grace period.
    await kubectl(['delete', 'pod', 'scraper', '-n', NS, '--grace-period=1']);
    // One replica: no PodDisruptionBudget, which would block every drain.
    expect(await kubectl(['get', 'pdb', '-n', RELEASE_NAMESPACE, '-o', 'name'])).toBe('');

    const crd = await json<CrdView>(['get', 'crd', 'checkpoints.checkpoint.example.com']);
    expect(crd.spec.names.categories).toEqual(['checkpoint', 'checkpoint-next']);
    expect(crd.metadata.labels).toMatchObject({ 'helm.sh/chart': 'checkpoint-operator-1.0.1' });
    expect(crd.metadata.annotations).toMatchObject({
      'meta.helm.sh/release-name': RELEASE,
      'helm.sh/resource-policy': 'keep',
    });
    const policyCrd = await json<CrdView>(['get', 'crd', 'checkpointpolicies.checkpoint.example.com']);
    expect(policyCrd.metadata.labels).toMatchObject({ 'helm.sh/chart': 'checkpoint-operator-1.0.1' });
    // The kept objects survive the CRD update, and the upgraded operator checkpoints too.
    // A fresh discovery cache: kubectl's own would still hold the CRD as it was before.
    const cacheDir = await mkdtemp(join(tmpdir(), 'kubectl-cache-'));
    expect(await kubectl(['--cache-dir', cacheDir, 'get', 'checkpoint-next', '-n', NS, '-o', 'name'])).toContain(
      'before-upgrade',
    );
    await checkpointSucceeds('after-upgrade');
    const jobs = await kubectl([
      'get',
      'jobs',
      '-n',
      JOB_NS,
      '-l',
      `checkpoint.example.com/owner-namespace=${NS},checkpoint.example.com/owner-name=after-upgrade`,
      '-o',
      'name',
    ]);
    expect(jobs.trim()).not.toBe('');
    expect(await helm(['history', RELEASE, '-n', RELEASE_NAMESPACE, '-o', 'json'])).toMatch(/"revision":2/);
  });

  it('uninstalls leaving nothing of the operator but the namespace and CRDs it keeps, removed afterwards', async () => {
    // docs/install.md's order: Checkpoints first, while the operator still removes their finalizers.
    await kubectl(['delete', 'checkpoints', '--all', '-n', NS, '--timeout=180s']);
    await kubectl(['delete', 'namespace', NS, '--timeout=180s']);

    await helm(['uninstall', RELEASE, '-n', RELEASE_NAMESPACE, '--wait', '--timeout', '3m']);

    expect((await helm(['list', '-A', '-q'])).trim()).toBe('');
    // Helm removed every object of the release but the two kinds it keeps.
    const cluster = 'clusterroles,clusterrolebindings';
    const inNamespace = 'deployments,serviceaccounts,roles,rolebindings,services,poddisruptionbudgets';
    expect(await leftovers(cluster)).toEqual([]);
    expect(await leftovers(inNamespace)).toEqual([]);
    const ns = await json<Meta>(['get', 'namespace', RELEASE_NAMESPACE]);
    expect(ns.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    for (const name of OPERATOR_CRDS) {
      const crd = await json<CrdView>(['get', 'crd', name]);
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    }

    // The namespace goes with what the operator made in it (Jobs, the Lease), not stuck Terminating.
    await kubectl(['delete', 'namespace', RELEASE_NAMESPACE, JOB_NS, '--timeout=120s']);
    expect((await kubectl(['get', 'namespace', RELEASE_NAMESPACE, JOB_NS, '--ignore-not-found'])).trim()).toBe('');
    expect(
      await leftovers(`${cluster},${inNamespace},cronjobs,jobs,leases,secrets,persistentvolumeclaims,configmaps`),
    ).toEqual([]);

    // The kept CRDs: a reinstall of the same release adopts them (Helm checks ownership even in a
    // server dry run); another release may not take them.
    const reinstall = (name: string) => [
      'install',
      name,
      CHART,
      '-n',
      RELEASE_NAMESPACE,
      '--create-namespace',
      '--dry-run=server',
      '-f',
    ];
    const values = await valuesFile({ image: image() });
    await helm([...reinstall(RELEASE), values]);
    expect(await helmRefusal([...reinstall('another-operator'), values])).toMatch(
      /CustomResourceDefinition "checkpoint[a-z]*\.checkpoint\.example\.com".* exists and cannot be imported into the current release/,
    );
    await kubectl(['delete', 'crd', ...OPERATOR_CRDS, '--timeout=120s']);
  });

  it('takes over a namespace made beforehand only when told to (--take-ownership)', async () => {
    // As when the S3 credentials Secret is created before the operator.
    await kubectl(['create', 'namespace', RELEASE_NAMESPACE]);
    const install = async (...extra: string[]) => [
      'install',
      RELEASE,
      CHART,
      '-n',
      RELEASE_NAMESPACE,
      '--dry-run=server',
      '-f',
      await valuesFile({ image: image() }),
      ...extra,
    ];
    expect(await helmRefusal(await install())).toMatch(
      new RegExp(`Namespace "${RELEASE_NAMESPACE}".* exists and cannot be imported into the current release`),
    );
    await helm(await install('--take-ownership'));
    await helm(await install('--set', 'namespace.create=false'));
    await kubectl(['delete', 'namespace', RELEASE_NAMESPACE, '--timeout=120s']);
  });

  it('deletes the CRDs on uninstall with crds.keep=false', async () => {
    // No replicas: only the CRDs' fate is in question here.
    const values = await valuesFile({ image: image(), replicas: 0, crds: { keep: false } });
    await helm(['install', RELEASE, CHART, '-n', RELEASE_NAMESPACE, '--create-namespace', '-f', values, '--wait']);
    for (const name of OPERATOR_CRDS) {
      const crd = await json<CrdView>(['get', 'crd', name]);
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBeUndefined();
    }
    await helm(['uninstall', RELEASE, '-n', RELEASE_NAMESPACE, '--wait', '--timeout', '3m']);
    expect((await kubectl(['get', 'crd', ...OPERATOR_CRDS, '--ignore-not-found', '-o', 'name'])).trim()).toBe('');
    await kubectl(['delete', 'namespace', RELEASE_NAMESPACE, '--timeout=120s']);
  });
});
