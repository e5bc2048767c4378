import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { generateCa, issueServingCert } from './pki.js';
import { hostPort, loopbackHost, type ServerHost } from './network/server-host.js';
import { type ManagedProcess, startProcess } from './processes.js';
import { startTokenServer, type TokenServer } from './registry-token-server.js';

const run = promisify(execFile);

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface RegistryServer {
  /** `<ip>:<port>`: the registry part of image references, from this machine and from pods. */
  host: string;
  port: number;
  /** http://<ip>:<port>, or https:// for a TLS registry. */
  url: string;
  /** A TLS registry's CA certificate (PEM), which signs its serving certificate for its address. */
  ca?: string;
  /** Set for 'basic' and 'token' registries: the one account they accept. */
  username?: string;
  password?: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** Directory for its data, configuration and log. */
  dir: string;
  /** Where it listens (default: this machine's loopback). */
  host?: ServerHost;
  /** Distinguishes several registries in one dir (default 'registry'). */
  name?: string;
  /** 'basic': htpasswd (bcrypt); 'token': Bearer tokens from a token server run in this process. */
  auth?: 'none' | 'basic' | 'token';
  /** A port chosen by the caller (one already exposed to pods, say); default a free one. */
  port?: number;
  /** The same for the token server of a 'token' registry, which clients are sent to. */
  tokenServerPort?: number;
  /** Serve HTTPS with a certificate from a CA of its own (see `ca`), as private registries do. */
  tls?: boolean;
  /** false: refuse deletes (405 UNSUPPORTED), as distribution does unless told otherwise. */
  deletes?: boolean;
}

/**
 * The real CNCF distribution registry (Debian's docker-registry, 2.8) on loopback, with
 * filesystem storage and (unless asked otherwise) deletes enabled. It takes OCI manifests and
 * indexes as they are pushed: 2.8 only checks that an index's manifests are in the repository.
 */
export async function startRegistry(opts: RegistryOptions): Promise<RegistryServer> {
  const name = opts.name ?? 'registry';
  const auth = opts.auth ?? 'none';
  const home = join(opts.dir, name);
  await mkdir(join(home, 'data'), { recursive: true, mode: 0o700 });
  const server = opts.host ?? loopbackHost;
  const port = opts.port ?? (await server.freePort());
  const address = hostPort(server, port);
  const account =
    auth === 'none'
      ? undefined
      : { username: `user-${randomBytes(3).toString('hex')}`, password: randomBytes(18).toString('base64url') };
  let tokenServer: TokenServer | undefined;
  const config: Record<string, unknown> = {
    version: 0.1,
    log: { level: 'info', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: join(home, 'data') },
      delete: { enabled: opts.deletes ?? true },
      // Nothing may vanish under a test: abandoned uploads are cleaned by the test, not a timer.
      maintenance: { uploadpurging: { enabled: false } },
    },
    http: { addr: address, secret: randomBytes(24).toString('hex') },
  };
  if (auth === 'basic') {
    const htpasswd = join(home, 'htpasswd');
    // Bcrypt is the only hash distribution accepts; the password goes through stdin, not argv.
    const hashing = run('htpasswd', ['-niB', account!.username]);
    hashing.child.stdin!.end(`${account!.password}\n`);
    await writeFile(htpasswd, (await hashing).stdout, { mode: 0o600 });
    config.auth = { htpasswd: { realm: 'checkpoint-local-registry', path: htpasswd } };
  }
  if (auth === 'token') {
    const signer = await generateCa(home, 'token-signer', 'checkpoint-local-registry-token-signer');
    const service = 'checkpoint-local-registry';
    const issuer = 'checkpoint-local-token-issuer';
    tokenServer = await startTokenServer({
      account: account!,
      service,
      issuer,
      host: server,
      port: opts.tokenServerPort ?? (await server.freePort()),
      key: await readFile(signer.caKey),
      cert: await readFile(signer.caCert, 'utf8'),
    });
    config.auth = { token: { realm: tokenServer.realm, service, issuer, rootcertbundle: signer.caCert } };
  }
  let ca: string | undefined;
  if (opts.tls) {
    const authority = await generateCa(home, 'tls-ca', 'checkpoint-local-registry-ca');
    const serving = await issueServingCert(authority, 'tls', server.ip, { ips: [server.ip], dns: ['localhost'] });
    (config.http as Record<string, unknown>).tls = { certificate: serving.cert, key: serving.key };
    ca = await readFile(authority.caCert, 'utf8');
  }
  const configPath = join(home, 'config.yml');
  await writeFile(configPath, stringify(config), { mode: 0o600 });
  const proc = startProcess(opts.dir, name, REGISTRY_BINARY, ['serve', configPath], process.env, server);
  const url = `${opts.tls ? 'https' : 'http'}://${address}`;
  const stop = async () => {
    await proc.stop();
    await tokenServer?.close();
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.hasExited()) {
      await tokenServer?.close();
      throw new Error(`docker-registry exited (${await proc.exited}):\n${await proc.logTail()}`);
    }
    // Any answer will do: with auth, /v2/ answers 401 once it is up.
    if (await answers(`${url}/v2/`, ca)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry was not ready within 30s:\n${await proc.logTail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host: address, port, url, ...(account ?? {}), ...(ca ? { ca } : {}), process: proc, stop };
}

/** True once anything answers at url (over HTTPS, verified against ca). */
function answers(url: string, ca: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const req = (url.startsWith('https:') ? https : http).get(url, { ...(ca ? { ca } : {}), timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on('error', () => resolve(false)).on('timeout', () => req.destroy());
  });
}
