import { Agent, request } from 'node:https';
import { isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import type { CredentialSource } from './credentials.js';
import { isTransient } from './transient.js';

/** An API error with the server's status code and body, readable by kube/errors.ts. */
export class KubeHttpError extends Error {
  constructor(
    readonly code: number,
    readonly body: string,
    method: string,
    path: string,
  ) {
    super(`${method} ${path}: HTTP ${code}: ${body.slice(0, 300)}`);
  }
}

/** Credentials are re-read this often, so rotated ServiceAccount tokens are picked up. */
const CREDENTIAL_REFRESH_MS = 60_000;
const MAX_SOCKETS = 32;
/** Idle connections are closed after this, before the server would drop them under us. */
const IDLE_SOCKET_MS = 30_000;
/** No answer for this long means a stuck connection, not a slow server. */
const REQUEST_TIMEOUT_MS = 300_000;

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** One connection pool per set of TLS credentials; a replaced pool closes once its requests end. */
interface Pool {
  agent: Agent;
  fingerprint: string;
  inFlight: number;
  retired: boolean;
  /** Called once a retired pool has no request left. */
  drained: (() => void)[];
}

/**
 * A small JSON client for the few requests on the dispatcher's hot path (read a pod, create a
 * Job, patch a status, record an Event). client-node's generated client spends several
 * milliseconds of CPU per request serialising through its model classes; at a thousand
 * Checkpoints that dominated the dispatcher's cost. This sends plain JSON over one keep-alive
 * connection pool, with the same credentials as the rest of the process. Everything else keeps
 * using client-node.
 *
 * It is built on node:https rather than an HTTP library: Jobs use it too, and a library such as
 * undici takes longer to load than the rest of a Job's code.
 */
export class LeanKubeClient {
  private pool: Pool | undefined;
  private refreshing: Promise<Pool> | undefined;
  private headers: Record<string, string> = {};
  private refreshedAt = 0;
  private host = '';
  private port = 443;
  private servername = '';
  private closed = false;

  /**
   * retry.forMs: how long a request is repeated while the API server is unreachable or answers
   * 429/5xx. For Jobs, which have one result to write and nobody to requeue them: an API server
   * restart must not turn a stored archive into a failed Job. The dispatcher passes none; its
   * work queue requeues with backoff instead.
   */
  constructor(
    private readonly credentials: CredentialSource,
    private readonly now: () => number = Date.now,
    private readonly retry: { forMs: number; sleep?: (ms: number) => Promise<void> } | undefined = undefined,
    /** The dispatcher's KUBE_API_QPS/KUBE_API_BURST; every request waits for its turn. */
    private readonly limiter: { take(): Promise<void> } | undefined = undefined,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body, 'application/json');
  }

  /** Replaces an object; with metadata.resourceVersion set, only the version the caller read. */
  put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body, 'application/json');
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  /** For built-in kinds: lists such as a pod's containers are merged by name, not replaced. */
  strategicMergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body, 'application/strategic-merge-patch+json');
  }

  /** options: a DeleteOptions body, e.g. with preconditions, so only the object decided on is deleted. */
  delete<T>(path: string, options?: unknown): Promise<T> {
    return options === undefined
      ? this.request<T>('DELETE', path)
      : this.request<T>('DELETE', path, options, 'application/json');
  }

  /** Lets requests in flight finish, then closes every connection. */
  async close(): Promise<void> {
    this.closed = true;
    await this.refreshing?.catch(() => undefined);
    const pool = this.pool;
    this.pool = undefined;
    if (pool) await retire(pool);
  }

  private async request<T>(method: Method, path: string, body?: unknown, contentType?: string): Promise<T> {
    if (!this.retry) return await this.requestOnce<T>(method, path, body, contentType);
    const sleep = this.retry.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const giveUpAt = this.now() + this.retry.forMs;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5_000)) {
      try {
        return await this.requestOnce<T>(method, path, body, contentType);
      } catch (err) {
        const wait = delay / 2 + Math.random() * (delay / 2);
        if (!isTransient(err) || this.closed || this.now() + wait > giveUpAt) throw err;
        await sleep(wait);
      }
    }
  }

  private async requestOnce<T>(method: Method, path: string, body?: unknown, contentType?: string): Promise<T> {
    if (this.closed) throw new Error(`${method} ${path}: the client is closed`);
    await this.limiter?.take();
    const pool = await this.connection();
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string | number> = { ...this.headers, accept: 'application/json' };
    if (contentType) headers['content-type'] = contentType;
    if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
    pool.inFlight++;
    try {
      const { status, text } = await this.send(pool.agent, method, path, headers, payload);
      if (status >= 300) throw new KubeHttpError(status, text, method, path);
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      pool.inFlight--;
      if (pool.retired && pool.inFlight === 0) destroy(pool);
    }
  }

  private send(
    agent: Agent,
    method: Method,
    path: string,
    headers: Record<string, string | number>,
    payload: string | undefined,
    retried = false,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = request(
        { agent, host: this.host, port: this.port, servername: this.servername, method, path, headers },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.setTimeout(REQUEST_TIMEOUT_MS, () =>
        req.destroy(new Error(`${method} ${path}: no response within ${REQUEST_TIMEOUT_MS / 1000}s`)),
      );
      req.on('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed while idle fails the next request sent on it
        // before the server saw it; one retry on a fresh connection is what a new request would do.
        if (!retried && req.reusedSocket && err.code === 'ECONNRESET') {
          this.send(agent, method, path, headers, payload, true).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      req.end(payload);
    });
  }

  private connection(): Promise<Pool> {
    if (this.pool && this.now() - this.refreshedAt < CREDENTIAL_REFRESH_MS) return Promise.resolve(this.pool);
    // Concurrent requests share one refresh, so a burst never opens several pools.
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<Pool> {
    const { server, tls, headers } = await this.credentials();
    const url = new URL(server);
    // URL keeps an IPv6 literal's brackets; a socket address has none.
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = url.port ? Number(url.port) : 443;
    // Given here, not worked out by the agent on every request; an IP address takes no SNI.
    this.servername = isIP(this.host) ? '' : this.host;
    const fingerprint = JSON.stringify([String(tls.ca), String(tls.cert), String(tls.key), tls.rejectUnauthorized]);
    if (!this.pool || fingerprint !== this.pool.fingerprint) {
      const old = this.pool;
      this.pool = {
        // One secure context for the pool: given as ca/cert/key instead, the agent would turn
        // them into strings on every request to name its connection pool.
        agent: new Agent({
          keepAlive: true,
          maxSockets: MAX_SOCKETS,
          timeout: IDLE_SOCKET_MS,
          secureContext: createSecureContext({ ca: tls.ca, cert: tls.cert, key: tls.key }),
          rejectUnauthorized: tls.rejectUnauthorized,
        }),
        fingerprint,
        inFlight: 0,
        retired: false,
        drained: [],
      };
      if (old) void retire(old);
    }
    this.headers = headers;
    this.refreshedAt = this.now();
    return this.pool;
  }
}

function retire(pool: Pool): Promise<void> {
  pool.retired = true;
  if (pool.inFlight === 0) {
    destroy(pool);
    return Promise.resolve();
  }
  return new Promise((resolve) => pool.drained.push(resolve));
}

function destroy(pool: Pool): void {
  pool.agent.destroy();
  for (const resolve of pool.drained.splice(0)) resolve();
}
