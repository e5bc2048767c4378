import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeletError, requestCheckpoint } from '../../src/kubelet/checkpoint-client.js';

/** A kubelet as kubeadm and kind leave it: a self-signed serving certificate for its own address. */
function selfSigned(dir: string, name: string, san = 'IP:127.0.0.1'): { cert: Buffer; key: Buffer } {
  execFileSync(
    'openssl',
    [
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
      `/CN=${name}`,
      '-addext',
      `subjectAltName=${san}`,
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      join(dir, `${name}.crt`),
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(join(dir, `${name}.crt`)), key: readFileSync(join(dir, `${name}.key`)) };
}

let dir: string;
let kubelet: Server;
let own: { cert: Buffer; key: Buffer };
let other: { cert: Buffer };
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kubelet-tls-'));
  own = selfSigned(dir, 'node-b');
  other = selfSigned(dir, 'cluster-ca');
  kubelet = createServer({ cert: own.cert, key: own.key }, (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({ items: ['/var/lib/kubelet/checkpoints/checkpoint-web-0_team-a-app-2026-12-05T10:00:00Z.tar'] }),
    );
  });
  await new Promise<void>((r) => kubelet.listen(0, '127.0.0.1', r));
  port = (kubelet.address() as AddressInfo).port;
});
afterAll(() => {
  kubelet?.close();
  rmSync(dir, { recursive: true, force: true });
});

const target = { target: { namespace: 'team-a', podName: 'web-0', containerName: 'app' } };
const direct = (ca: Buffer | undefined, insecureSkipTLSVerify = false) => ({
  access: 'direct' as const,
  host: '127.0.0.1',
  port,
  token: 't',
  ca,
  insecureSkipTLSVerify,
});

describe('a kubelet with its own self-signed certificate', () => {
  it('verified against the cluster CA: KubeletTLSError, naming every way out', async () => {
    const err = await requestCheckpoint(direct(other.cert), target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeletError);
    expect((err as KubeletError).reason).toBe('KubeletTLSError');
    expect((err as KubeletError).retryable).toBe(false);
    for (const way of [
      'serverTLSBootstrap',
      'KUBELET_CA_BUNDLE_SECRET',
      'KUBELET_ACCESS=proxy',
      'KUBELET_INSECURE_SKIP_TLS_VERIFY=true',
    ]) {
      expect((err as KubeletError).message).toContain(way);
    }
  });

  it('verified against a bundle holding its CA (beside the cluster CA): answered', async () => {
    const bundle = Buffer.concat([other.cert, own.cert]);
    expect(await requestCheckpoint(direct(bundle), target)).toMatch(
      /^\/var\/lib\/kubelet\/checkpoints\/checkpoint-web-0_team-a-app-/,
    );
  });

  it('not verified, when that is asked for explicitly: answered', async () => {
    expect(await requestCheckpoint(direct(other.cert, true), target)).toMatch(/\.tar$/);
  });

  it('a kubelet nobody listens for is unreachable, not a TLS error', async () => {
    const err = await requestCheckpoint({ ...direct(other.cert), port: 1 }, target).catch((e: unknown) => e);
    expect((err as KubeletError).reason).toBe('KubeletUnreachable');
  });
});

describe("a kubelet's self-signed certificate names its host, not its address", () => {
  let byName: Server;
  let cert: Buffer;
  let namePort: number;
  beforeAll(async () => {
    const own = selfSigned(dir, 'node-c', 'DNS:node-c');
    cert = own.cert;
    byName = createServer({ cert: own.cert, key: own.key }, (_req, res) =>
      res.end(
        JSON.stringify({
          items: ['/var/lib/kubelet/checkpoints/checkpoint-web-0_team-a-app-2026-12-05T10:00:00Z.tar'],
        }),
      ),
    );
    await new Promise<void>((r) => byName.listen(0, '127.0.0.1', r));
    namePort = (byName.address() as AddressInfo).port;
  });
  afterAll(() => byName?.close());

  it('is accepted for the node it names, with its CA in the bundle', async () => {
    expect(
      await requestCheckpoint(
        {
          access: 'direct',
          host: '127.0.0.1',
          port: namePort,
          token: 't',
          ca: cert,
          insecureSkipTLSVerify: false,
          nodeName: 'node-c',
        },
        target,
      ),
    ).toMatch(/\.tar$/);
  });

  it('is refused for any other node: the name is checked, not waived', async () => {
    const err = await requestCheckpoint(
      {
        access: 'direct',
        host: '127.0.0.1',
        port: namePort,
        token: 't',
        ca: cert,
        insecureSkipTLSVerify: false,
        nodeName: 'node-a',
      },
      target,
    ).catch((e: unknown) => e);
    expect((err as KubeletError).reason).toBe('KubeletTLSError');
    expect((err as KubeletError).message).toContain('ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
