import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { get } from 'node:https';
import { join } from 'node:path';
import { ensureBinaries } from './binaries.js';
import { hostPort, loopbackHost, type ServerHost } from './network/server-host.js';
import { type ManagedProcess, startProcess } from './processes.js';

export interface S3Server {
  /** http://<host>:<port>: the same address from this machine and from pods. */
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface MinioOptions {
  /** Directory for its data and log. */
  dir: string;
  /** Where it listens (default: this machine's loopback). */
  host?: ServerHost;
  port?: number;
  name?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Serve HTTPS with this certificate (PEM files) instead of HTTP. */
  tls?: { cert: string; key: string; ca: string };
}

/**
 * A real MinIO server (built from its Go module), single drive, with fresh root credentials.
 * Restarting it on the same dir and port keeps its buckets and objects.
 */
export async function startMinio(opts: MinioOptions): Promise<S3Server> {
  const binaries = await ensureBinaries();
  const host = opts.host ?? loopbackHost;
  const name = opts.name ?? 'minio';
  const port = opts.port ?? (await host.freePort());
  const consolePort = await host.freePort();
  const credentials = opts.credentials ?? {
    accessKeyId: `admin-${randomBytes(4).toString('hex')}`,
    secretAccessKey: randomBytes(24).toString('base64url'),
  };
  const data = join(opts.dir, `${name}-data`);
  await mkdir(data, { recursive: true, mode: 0o700 });
  const certs = join(opts.dir, `${name}-certs`);
  if (opts.tls) {
    await mkdir(certs, { recursive: true, mode: 0o700 });
    await copyFile(opts.tls.cert, join(certs, 'public.crt'));
    await copyFile(opts.tls.key, join(certs, 'private.key'));
  }
  const proc = startProcess(
    opts.dir,
    name,
    binaries.minio,
    [
      'server',
      data,
      '--address',
      hostPort(host, port),
      '--console-address',
      hostPort(host, consolePort),
      '--quiet',
      ...(opts.tls ? ['--certs-dir', certs] : []),
    ],
    {
      PATH: process.env.PATH,
      HOME: opts.dir,
      MINIO_ROOT_USER: credentials.accessKeyId,
      MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
      MINIO_CI_CD: '1',
      // A static key for MinIO's built-in KMS, so server-side encryption (SSE-S3, SSE-KMS) works.
      MINIO_KMS_SECRET_KEY: `local-key:${randomBytes(32).toString('base64')}`,
    },
    host,
  );
  const endpoint = `${opts.tls ? 'https' : 'http'}://${hostPort(host, port)}`;
  const ca = opts.tls ? await readFile(opts.tls.ca) : undefined;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.hasExited()) throw new Error(`minio exited (${await proc.exited}):\n${await proc.logTail()}`);
    if (await ready(`${endpoint}/minio/health/ready`, ca)) break;
    if (Date.now() > deadline) throw new Error(`minio was not ready within 60s:\n${await proc.logTail()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { endpoint, port, ...credentials, process: proc, stop: () => proc.stop() };
}

function ready(url: string, ca: Buffer | undefined): Promise<boolean> {
  if (!ca)
    return fetch(url).then(
      (r) => r.ok,
      () => false,
    );
  return new Promise((resolve) => {
    get(url, { ca, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    }).on('error', () => resolve(false));
  });
}
