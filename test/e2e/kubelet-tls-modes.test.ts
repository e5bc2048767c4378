import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventsFor, runWorkload, sha256File, waitForTerminal } from './support/checkpoints.js';
import { kubectl } from './support/kube.js';
import { CHECKPOINT_NODE, DEFAULT_NODE, nodeRoot } from './support/nodes.js';

const NS = 'kubelet-tls-modes';
const OPERATOR_NS = 'checkpoint-operator-system';
const DEPLOYMENT = 'deployment/checkpoint-operator';
const BUNDLE_SECRET = 'kubelet-serving-ca';
const root = join(import.meta.dirname, '../..');
const ARCHIVES = '/var/lib/checkpoint-operator/kubelet-tls-modes';

/**
 * Each way of reaching a kubelet that docs/install.md offers, set on the installed Deployment as
 * an administrator sets it (an environment variable, then a rollout), and proven against both
 * kinds of node: DEFAULT_NODE keeps the kubelet's own self-signed serving certificate (kubeadm's
 * and kind's default), CHECKPOINT_NODE has one the cluster CA signed. The default mode, which
 * refuses the self-signed node with KubeletTLSError, is proven in checkpoint.test.ts.
 */
async function configure(env: string[]): Promise<void> {
  await kubectl(['set', 'env', DEPLOYMENT, '-n', OPERATOR_NS, ...env]);
  await kubectl(['rollout', 'status', DEPLOYMENT, '-n', OPERATOR_NS, '--timeout=180s']);
}

async function checkpointOn(name: string, pod: string): Promise<{ phase?: string; message?: string; file?: string }> {
  await kubectl(
    ['apply', '-f', '-'],
    `apiVersion: checkpoint.example.com/v1alpha1
kind: Checkpoint
metadata: { name: ${name}, namespace: ${NS} }
spec:
  target: { podName: ${pod} }
  storage: { backend: local, local: { path: ${ARCHIVES} } }
`,
  );
  const c = await waitForTerminal(NS, name, 180_000);
  const uri = c.status?.archive?.uri;
  const local = uri ? /^local:\/\/([^/]+)(\/.*)$/.exec(uri) : null;
  if (local) expect(await sha256File(join(nodeRoot(local[1]!), local[2]!))).toBe(c.status!.archive!.sha256);
  return { phase: c.status?.phase, message: c.status?.message, file: local?.[2] };
}

const warnings = async (name: string) =>
  (await eventsFor(NS, name)).filter((e) => e.type === 'Warning').map((e) => e.reason);

describe('kubelet access modes, set on the installed Deployment', () => {
  beforeAll(async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    await runWorkload(NS, 'self-signed', { nodeName: DEFAULT_NODE });
    await runWorkload(NS, 'ca-signed', { nodeName: CHECKPOINT_NODE });
  });

  afterAll(async () => {
    await kubectl(['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
    await kubectl(['delete', '-f', join(root, 'manifests/rbac/optional/job-node-proxy.yaml'), '--ignore-not-found']);
    await configure(['KUBELET_CA_BUNDLE_SECRET-', 'KUBELET_ACCESS-', 'KUBELET_INSECURE_SKIP_TLS_VERIFY-']);
    await kubectl(['delete', 'secret', BUNDLE_SECRET, '-n', OPERATOR_NS, '--ignore-not-found']);
  });

  it('KUBELET_CA_BUNDLE_SECRET: the self-signed node verified against the bundle, the CA-signed one against the cluster CA beside it', async () => {
    // What an administrator collects into the bundle: the certificate each such kubelet made for itself.
    const own = await readFile(join(nodeRoot(DEFAULT_NODE), 'var/lib/kubelet/pki/kubelet.crt'), 'utf8');
    await kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: BUNDLE_SECRET, namespace: OPERATOR_NS },
        stringData: { 'ca.crt': own },
      }),
    );
    await configure([`KUBELET_CA_BUNDLE_SECRET=${BUNDLE_SECRET}`]);

    const selfSigned = await checkpointOn('bundle-self-signed', 'self-signed');
    expect(selfSigned.phase, selfSigned.message).toBe('Succeeded');
    expect(selfSigned.file).toContain(`${ARCHIVES}/${NS}/`);
    const caSigned = await checkpointOn('bundle-ca-signed', 'ca-signed');
    expect(caSigned.phase, caSigned.message).toBe('Succeeded');
    expect(await warnings('bundle-self-signed')).not.toContain('KubeletTLSUnverified');
  });

  it('KUBELET_ACCESS=proxy with the optional nodes/proxy role: the API server reaches the self-signed node', async () => {
    await kubectl(['apply', '-f', join(root, 'manifests/rbac/optional/job-node-proxy.yaml')]);
    await configure(['KUBELET_CA_BUNDLE_SECRET-', 'KUBELET_ACCESS=proxy']);

    const selfSigned = await checkpointOn('proxy-self-signed', 'self-signed');
    expect(selfSigned.phase, selfSigned.message).toBe('Succeeded');
    expect(await warnings('proxy-self-signed')).not.toContain('KubeletTLSUnverified');
  });

  it('KUBELET_INSECURE_SKIP_TLS_VERIFY=true: the self-signed node answers, and the Checkpoint carries a KubeletTLSUnverified Warning', async () => {
    await kubectl(['delete', '-f', join(root, 'manifests/rbac/optional/job-node-proxy.yaml'), '--ignore-not-found']);
    await configure(['KUBELET_ACCESS-', 'KUBELET_INSECURE_SKIP_TLS_VERIFY=true']);

    const selfSigned = await checkpointOn('unverified-self-signed', 'self-signed');
    expect(selfSigned.phase, selfSigned.message).toBe('Succeeded');
    await expect.poll(() => warnings('unverified-self-signed')).toContain('KubeletTLSUnverified');
    const message = (await eventsFor(NS, 'unverified-self-signed')).find(
      (e) => e.reason === 'KubeletTLSUnverified',
    )!.message;
    expect(message).toContain(DEFAULT_NODE);
    expect(message).toContain('KUBELET_INSECURE_SKIP_TLS_VERIFY=true');
  });
});
