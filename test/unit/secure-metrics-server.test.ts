import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Registry, Counter } from 'prom-client';
import { createLogger } from '../../src/observability/logger.js';
import type { AccessReviews } from '../../src/observability/metrics-access.js';
import { startSecureMetricsServer } from '../../src/observability/secure-metrics-server.js';
import { selfSignedCertificate } from '../../src/observability/serving-certificate.js';

const reviews: AccessReviews = {
  authenticate: async (token) =>
    token === 'good'
      ? { authenticated: true, user: { username: 'prom' } }
      : { authenticated: false, reason: 'unknown token' },
  authorize: async () => ({ allowed: true }),
};

function registry(): Registry {
  const r = new Registry();
  new Counter({ name: 'checkpoint_operator_checkpoint_total', help: 'h', labelNames: ['status'], registers: [r] }).inc({
    status: 'created',
  });
  return r;
}

function get(
  server: Server,
  path: string,
  token?: string,
): Promise<{ status: number; body: string; san: string | undefined }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        rejectUnauthorized: false,
        agent: false,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      },
      (res) => {
        let body = '';
        const san = (
          res.socket as unknown as { getPeerCertificate(): { subjectaltname?: string } }
        ).getPeerCertificate().subjectaltname;
        res.on('data', (d: Buffer) => {
          body += d.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode!, body, san }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const log = createLogger('test', 'error');
const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

describe('the secure metrics server', () => {
  it('serves /metrics over TLS to an allowed token, on a self-signed certificate for the Service names', async () => {
    const server = await startSecureMetricsServer({
      port: 0,
      host: '127.0.0.1',
      registry: registry(),
      reviews,
      log,
      dnsNames: ['m.ns.svc', 'm.ns.svc.cluster.local'],
    });
    servers.push(server);
    const ok = await get(server, '/metrics', 'good');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('checkpoint_operator_checkpoint_total{status="created"} 1');
    expect(ok.san).toBe('DNS:m.ns.svc, DNS:m.ns.svc.cluster.local');
    const refused = await get(server, '/metrics', 'bad');
    expect(refused).toMatchObject({ status: 401, body: 'the token was not accepted: unknown token\n' });
    expect((await get(server, '/metrics')).status).toBe(401);
    expect((await get(server, '/healthz', 'good')).status).toBe(404);
  });

  it('serves a mounted certificate, and the renewed one once it changes in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'metrics-cert-'));
    try {
      const first = await selfSignedCertificate(['first.example']);
      await writeFile(join(dir, 'tls.crt'), first.cert);
      await writeFile(join(dir, 'tls.key'), first.key, { mode: 0o600 });
      const server = await startSecureMetricsServer({
        port: 0,
        host: '127.0.0.1',
        registry: registry(),
        reviews,
        log,
        dnsNames: [],
        certDir: dir,
        certCheckIntervalMs: 50,
      });
      servers.push(server);
      expect((await get(server, '/metrics', 'good')).san).toBe('DNS:first.example');
      const second = await selfSignedCertificate(['second.example']);
      await writeFile(join(dir, 'tls.crt'), second.cert);
      await writeFile(join(dir, 'tls.key'), second.key, { mode: 0o600 });
      // A later modification time than the first pair's, however coarse the file system's clock.
      const later = new Date((await stat(join(dir, 'tls.crt'))).mtimeMs + 5_000);
      await utimes(join(dir, 'tls.crt'), later, later);
      await expect
        .poll(async () => (await get(server, '/metrics', 'good')).san, { timeout: 5_000 })
        .toBe('DNS:second.example');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('does not start without the mounted certificate it was told to use', async () => {
    await expect(
      startSecureMetricsServer({
        port: 0,
        host: '127.0.0.1',
        registry: registry(),
        reviews,
        log,
        dnsNames: [],
        certDir: '/nonexistent/metrics-cert',
      }),
    ).rejects.toThrow(/ENOENT/);
  });
});
