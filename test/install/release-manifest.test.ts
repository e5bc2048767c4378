import { access, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { clusterContext } from '../e2e/support/cluster-context.js';
import { getCheckpoint, runWorkload, waitForTerminal } from '../e2e/support/checkpoints.js';
import { kubectl } from '../e2e/support/kube.js';
import { CHECKPOINT_NODE, nodeRoot } from '../e2e/support/nodes.js';
import { failureLines, lastLine, npmScript } from './support/npm-script.js';
import { AMD64, ARM64, pushTestBase } from './support/test-base.js';
import { expectNothingOfTheOperatorLeft, expectRestoredAndContinuing, OPERATOR_NS } from './support/install-checks.js';

const root = join(import.meta.dirname, '../..');
const { registryHost, kubectl: kubectlBinary } = clusterContext();
const TARGET = `${registryHost}/checkpoint-operator`;
const INSTALL = join(root, 'dist/install.yaml');
const NS = 'release-install';
const existing = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

interface K8sObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: { template?: { spec?: { containers?: { name: string; image: string }[] } } };
}

let pinned: string;

beforeAll(async () => {
  // The image a release pins: built and pushed by npm run image on a two-platform Node.js base.
  await pushTestBase({ registryHost, repository: 'node-base', tag: '26', platforms: [AMD64, ARM64] });
  const image = await npmScript('image', [
    '--push',
    `${TARGET}:release`,
    '--base',
    `${registryHost}/node-base:26`,
    '--insecure-registry',
    registryHost,
  ]);
  expect(image.code, image.stderr).toBe(0);
  pinned = image.stdout.trim();
});

describe('npm run release', () => {
  it('writes dist/install.yaml: the objects of manifests/default, the image pinned by digest', async () => {
    const result = await npmScript('release', ['--image', `${TARGET}:release`, '--insecure-registry', registryHost], {
      KUBECTL: kubectlBinary,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.trim()).toBe(INSTALL);
    const written = parseAllDocuments(await readFile(INSTALL, 'utf8')).map((d) => d.toJS() as K8sObject);
    const kustomized = parseAllDocuments(await kubectl(['kustomize', join(root, 'manifests/default')])).map(
      (d) => d.toJS() as K8sObject,
    );
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(written.map(key)).toEqual(kustomized.map(key));
    const deployment = written.find((o) => o.kind === 'Deployment')!;
    expect(deployment.spec!.template!.spec!.containers!.find((c) => c.name === 'manager')!.image).toBe(pinned);
    // Nothing else differs from the kustomization: no second copy to drift.
    const unpinned = structuredClone(deployment);
    unpinned.spec!.template!.spec!.containers!.find((c) => c.name === 'manager')!.image = kustomized
      .find((o) => o.kind === 'Deployment')!
      .spec!.template!.spec!.containers!.find((c) => c.name === 'manager')!.image;
    expect(written.map((o) => (o === deployment ? unpinned : o))).toEqual(kustomized);
  });

  it('takes a reference that already has a digest as it is, without asking the registry', async () => {
    const out = join(await mkdtemp(join(tmpdir(), 'release-test-')), 'install.yaml');
    const result = await npmScript(
      'release',
      ['--image', `unreachable.invalid/checkpoint-operator@sha256:${'a'.repeat(64)}`, '--out', out],
      { KUBECTL: kubectlBinary },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(await readFile(out, 'utf8')).toContain(
      `image: unreachable.invalid/checkpoint-operator@sha256:${'a'.repeat(64)}`,
    );
  });

  it('says in one line that a tag it cannot resolve does not exist', async () => {
    const result = await npmScript(
      'release',
      ['--image', `${TARGET}:no-such-tag`, '--insecure-registry', registryHost, '--out', '/dev/null'],
      { KUBECTL: kubectlBinary },
    );
    expect(result.code).toBe(1);
    expect(failureLines('release', result.stderr), result.stderr).toHaveLength(1);
    expect(lastLine(result.stderr)).toMatch(/^release: .*no-such-tag.*404/);
  });
});

describe('kubectl apply -f dist/install.yaml', () => {
  it('installs the operator, which checkpoints and restores a real process, and uninstalls leaving nothing', async () => {
    await kubectl(['apply', '-f', INSTALL]);
    await kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/checkpoints.checkpoint.example.com']);
    // The restore settings a cluster needs (docs/restore.md), set as a user does after applying.
    await kubectl([
      'set',
      'env',
      '-n',
      OPERATOR_NS,
      'deployment/checkpoint-operator',
      `RESTORE_IMAGE_REPOSITORY=${registryHost}/checkpoints`,
      'RESTORE_INSECURE_REGISTRY=true',
    ]);
    await kubectl(['rollout', 'status', '-n', OPERATOR_NS, 'deployment/checkpoint-operator', '--timeout=240s']);
    const pods = JSON.parse(
      await kubectl(['get', 'pods', '-n', OPERATOR_NS, '-l', 'control-plane=controller-manager', '-o', 'json']),
    ) as {
      items: { spec: { containers: { image: string }[] }; status: { containerStatuses?: { imageID: string }[] } }[];
    };
    expect(pods.items.length).toBeGreaterThan(0);
    for (const pod of pods.items) {
      expect(pod.spec.containers[0]!.image).toBe(pinned);
      expect(pod.status.containerStatuses?.[0]?.imageID).toContain(pinned.slice(pinned.indexOf('@') + 1));
    }

    await kubectl(['create', 'namespace', NS]);
    await runWorkload(NS, 'app', { nodeName: CHECKPOINT_NODE });
    await kubectl(
      ['apply', '-f', '-'],
      `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: app-ckpt, namespace: ${NS} }
spec:
  target: { podName: app, containerName: main }
  storage: { backend: local, local: { path: /var/lib/checkpoint-operator/archives } }
`,
    );
    const checkpoint = await waitForTerminal(NS, 'app-ckpt', 180_000);
    expect(checkpoint.status?.phase, JSON.stringify(checkpoint.status)).toBe('Succeeded');
    // Its Job ran the pinned image too: the dispatcher hands Jobs its own image as written.
    const jobs = JSON.parse(await kubectl(['get', 'jobs', '-n', OPERATOR_NS, '-o', 'json'])) as {
      items: { spec: { template: { spec: { containers: { image: string }[] } } } }[];
    };
    expect(jobs.items.map((j) => j.spec.template.spec.containers[0]!.image)).toContain(pinned);
    const archive = /^local:\/\/([^/]+)(\/.*)$/.exec(checkpoint.status!.archive!.uri)!;
    const archiveFile = join(nodeRoot(archive[1]!), archive[2]!);
    expect(await existing(archiveFile)).toBe(true);

    await expectRestoredAndContinuing(NS, 'app', 'app-ckpt');
    expect((await getCheckpoint(NS, 'app-ckpt')).status?.restores?.[0]?.result).toBe('Succeeded');

    // Uninstall in the documented order: Checkpoints first, while the operator still runs.
    await kubectl(['delete', 'checkpoints.checkpoint.example.com', '--all', '-A', '--wait=true', '--timeout=180s']);
    expect(await existing(archiveFile)).toBe(false);
    await kubectl(['delete', 'checkpointpolicies.checkpoint.example.com', '--all', '--wait=true', '--timeout=120s']);
    await kubectl(['delete', '-f', INSTALL, '--wait=true', '--timeout=240s']);
    await expectNothingOfTheOperatorLeft();
    await kubectl(['delete', 'namespace', NS, '--wait=true', '--timeout=120s']);
  });
});
