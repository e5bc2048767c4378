import { createServer, type Server } from 'node:https';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { decideMetricsAccess, type AccessReviews } from './metrics-access.js';
import { readCertificateDir, selfSignedCertificate } from './serving-certificate.js';

export interface SecureMetricsOptions {
  port: number;
  host?: string;
  registry: Registry;
  reviews: AccessReviews;
  log: Logger;
  /** A mounted kubernetes.io/tls Secret (tls.crt, tls.key); unset: a self-signed certificate. */
  certDir?: string;
  /** Names the self-signed certificate is for (the metrics Service's DNS names). */
  dnsNames: string[];
  /** How often a mounted certificate is checked for renewal (cert-manager rotates it in place). */
  certCheckIntervalMs?: number;
}

/**
 * /metrics over HTTPS for callers the API server vouches for (see metrics-access.ts). Health
 * probes stay on their own plain port: the kubelet probes without a token.
 */
export async function startSecureMetricsServer(o: SecureMetricsOptions): Promise<Server> {
  const initial = o.certDir
    ? await readCertificateDir(o.certDir)
    : { ...(await selfSignedCertificate(o.dnsNames)), changedAt: 0 };
  const server = createServer({ cert: initial.cert, key: initial.key, minVersion: 'TLSv1.2' }, (req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (path !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    void decideMetricsAccess(req.headers.authorization, path, o.reviews)
      .then(async (access) => {
        if (access.kind === 'deny') {
          o.log.debug(
            { status: access.status, reason: access.message, remote: req.socket.remoteAddress },
            'metrics request refused',
          );
          res.writeHead(access.status, { 'content-type': 'text/plain; charset=utf-8' }).end(`${access.message}\n`);
          return;
        }
        const text = await o.registry.metrics();
        res.writeHead(200, { 'content-type': o.registry.contentType }).end(req.method === 'HEAD' ? undefined : text);
      })
      .catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500).end(err.message);
      });
  });
  if (o.certDir) {
    const dir = o.certDir;
    let changedAt = initial.changedAt;
    const timer = setInterval(() => {
      readCertificateDir(dir)
        .then((next) => {
          if (next.changedAt === changedAt) return;
          server.setSecureContext({ cert: next.cert, key: next.key, minVersion: 'TLSv1.2' });
          changedAt = next.changedAt;
          o.log.info({ certDir: dir }, 'metrics serving certificate reloaded');
        })
        .catch((err: Error) =>
          o.log.warn(
            { certDir: dir, err: err.message },
            'could not reload the metrics serving certificate; keeping the current one',
          ),
        );
    }, o.certCheckIntervalMs ?? 60_000);
    timer.unref();
    server.on('close', () => clearInterval(timer));
  }
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '0.0.0.0', () => resolve(server));
  });
}
