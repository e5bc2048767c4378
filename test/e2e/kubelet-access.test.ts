import { fromKubeConfig } from '../../src/kube/credentials.js';
import { readFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterContext } from './support/cluster-context.js';
import { requestCheckpoint, KubeletError } from '../../src/kubelet/checkpoint-client.js';
import { runWorkload } from './support/checkpoints.js';
import { kubeConfig, kubectl } from './support/kube.js';
import { DEFAULT_NODE, nodeRoot } from './support/nodes.js';

const NS = 'kubelet-access';

/**
 * The kubelet checkpoint API of the real nodes, exercised with the operator's own kubelet client:
 * through the API server's node proxy, and directly with ServiceAccount tokens that RBAC allows
 * or refuses.
 */
/** Archives made here have no Job to remove them (the kubelet never does): remove them after. */
const made: { node: string; path: string }[] = [];
afterAll(async () => {
  for (const m of made)
    await rm(join(clusterContext().clusterDir, 'nodes', m.node, 'var/lib/kubelet/checkpoints', basename(m.path)), {
      force: true,
    });
});

describe('kubelet checkpoint API', () => {
  it('answers through the API server node proxy with the archive path', async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    await runWorkload(NS, 'proxied');
    const pod = JSON.parse(await kubectl(['get', 'pod', 'proxied', '-n', NS, '-o', 'json']));
    const path = await requestCheckpoint(
      { access: 'proxy', credentials: fromKubeConfig(kubeConfig()), nodeName: pod.spec.nodeName },
      { target: { namespace: NS, podName: 'proxied', containerName: 'main' }, timeoutSeconds: 30 },
    );
    made.push({ node: pod.spec.nodeName, path });
    expect(path).toMatch(
      new RegExp(
        `^/var/lib/kubelet/checkpoints/checkpoint-proxied_${NS}-main-\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\.tar$`,
      ),
    );
  });

  it('answers 404 through the proxy for a container the pod does not have', async () => {
    const pod = JSON.parse(await kubectl(['get', 'pod', 'proxied', '-n', NS, '-o', 'json']));
    const err = await requestCheckpoint(
      { access: 'proxy', credentials: fromKubeConfig(kubeConfig()), nodeName: pod.spec.nodeName },
      { target: { namespace: NS, podName: 'proxied', containerName: 'nope' } },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeletError);
    expect((err as KubeletError).reason).toBe('KubeletNotFound');
  });

  it('authenticates tokens with TokenReview and authorises them with SubjectAccessReview', async () => {
    const pod = JSON.parse(await kubectl(['get', 'pod', 'proxied', '-n', NS, '-o', 'json']));
    const node = JSON.parse(await kubectl(['get', 'node', pod.spec.nodeName, '-o', 'json']));
    const ip = node.status.addresses.find((a: { type: string }) => a.type === 'InternalIP').address;
    const ca = Buffer.from(
      JSON.parse(await kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', NS, '-o', 'json'])).data['ca.crt'],
    );
    await kubectl(['create', 'serviceaccount', 'allowed', '-n', NS]).catch(() => undefined);
    await kubectl(['create', 'serviceaccount', 'refused', '-n', NS]).catch(() => undefined);
    await kubectl([
      'create',
      'clusterrolebinding',
      'kubelet-access-allowed',
      '--clusterrole=checkpoint-operator-job-role',
      `--serviceaccount=${NS}:allowed`,
    ]).catch(() => undefined);
    const token = async (sa: string) => (await kubectl(['create', 'token', sa, '-n', NS])).trim();
    const target = { target: { namespace: NS, podName: 'proxied', containerName: 'main' } };
    const direct = (t: string) => ({
      access: 'direct' as const,
      host: ip,
      port: node.status.daemonEndpoints.kubeletEndpoint.Port,
      token: t,
      ca,
      insecureSkipTLSVerify: false,
    });

    const path = await requestCheckpoint(direct(await token('allowed')), target);
    made.push({ node: pod.spec.nodeName, path });
    expect(path).toMatch(/^\/var\/lib\/kubelet\/checkpoints\//);
    await expect(requestCheckpoint(direct(await token('refused')), target)).rejects.toMatchObject({
      reason: 'KubeletForbidden',
    });
    await expect(requestCheckpoint(direct('not-a-token'), target)).rejects.toMatchObject({
      reason: 'KubeletUnauthorized',
    });
  });
});

describe('a kubelet with its own self-signed serving certificate (as kubeadm and kind leave it)', () => {
  it('fails verification against the cluster CA with KubeletTLSError; answers when its CA is in the bundle, or when verification is skipped', async () => {
    await kubectl(['create', 'namespace', NS]).catch(() => undefined);
    await runWorkload(NS, 'self-signed', { nodeName: DEFAULT_NODE });
    const node = JSON.parse(await kubectl(['get', 'node', DEFAULT_NODE, '-o', 'json']));
    const ip = node.status.addresses.find((a: { type: string }) => a.type === 'InternalIP').address;
    const clusterCA = Buffer.from(
      JSON.parse(await kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', NS, '-o', 'json'])).data['ca.crt'],
    );
    await kubectl(['create', 'serviceaccount', 'allowed', '-n', NS]).catch(() => undefined);
    await kubectl([
      'create',
      'clusterrolebinding',
      'kubelet-access-allowed',
      '--clusterrole=checkpoint-operator-job-role',
      `--serviceaccount=${NS}:allowed`,
    ]).catch(() => undefined);
    const token = (await kubectl(['create', 'token', 'allowed', '-n', NS])).trim();
    const target = { target: { namespace: NS, podName: 'self-signed', containerName: 'main' } };
    const direct = (ca: Buffer, insecureSkipTLSVerify = false) => ({
      access: 'direct' as const,
      host: ip,
      port: node.status.daemonEndpoints.kubeletEndpoint.Port,
      token,
      ca,
      insecureSkipTLSVerify,
      nodeName: DEFAULT_NODE,
    });

    const err = await requestCheckpoint(direct(clusterCA), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeletError);
    expect((err as KubeletError).reason).toBe('KubeletTLSError');
    expect((err as KubeletError).message).toContain(`${ip}:`);
    expect((err as KubeletError).message).toContain('KUBELET_CA_BUNDLE_SECRET');

    // What an administrator puts in the bundle: the certificate the kubelet made for itself.
    const own = await readFile(join(nodeRoot(DEFAULT_NODE), 'var/lib/kubelet/pki/kubelet.crt'));
    const verified = await requestCheckpoint(direct(Buffer.concat([clusterCA, Buffer.from('\n'), own])), target);
    made.push({ node: DEFAULT_NODE, path: verified });
    expect(verified).toMatch(/^\/var\/lib\/kubelet\/checkpoints\/checkpoint-self-signed_/);
    const unverified = await requestCheckpoint(direct(clusterCA, true), target);
    made.push({ node: DEFAULT_NODE, path: unverified });
    expect(unverified).toMatch(/\.tar$/);
  });
});
