import { Agent, type Dispatcher } from 'undici';
import type { CredentialSource } from './credentials.js';

/** An API error with the server's status code and body, readable by kube/errors.ts. */
export class KubeHttpError extends Error {
  constructor(readonly code: number, readonly body: string, method: string, path: string) {
    super(`${method} ${path}: HTTP ${code}: ${body.slice(0, 300)}`);
  }
}

/** Credentials are re-read this often, so rotated ServiceAccount tokens are picked up. */
const CREDENTIAL_REFRESH_MS = 60_000;

/**
 * A small JSON client for the few requests on the dispatcher's hot path (read a pod, create a
 * Job, patch a status, record an Event). client-node's generated client spends several
 * milliseconds of CPU per request serialising through its model classes; at a thousand
 * Checkpoints that dominated the dispatcher's cost. This sends plain JSON over one keep-alive
 * connection pool, with the same credentials as the rest of the process. Everything else keeps
 * using client-node.
 */
export class LeanKubeClient {
  private dispatcher: Dispatcher | undefined;
  private headers: Record<string, string> = {};
  private refreshedAt = 0;
  private origin = '';

  constructor(private readonly credentials: CredentialSource, private readonly now: () => number = Date.now) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body, 'application/json');
  }

  mergePatch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body, 'application/merge-patch+json');
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>('DELETE', path);
  }

  async close(): Promise<void> {
    await this.dispatcher?.close();
  }

  private async request<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown, contentType?: string): Promise<T> {
    const dispatcher = await this.connection();
    const res = await dispatcher.request({
      origin: this.origin,
      method,
      path,
      headers: { ...this.headers, accept: 'application/json', ...(contentType ? { 'content-type': contentType } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.body.text();
    if (res.statusCode >= 300) throw new KubeHttpError(res.statusCode, text, method, path);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private async connection(): Promise<Dispatcher> {
    if (this.dispatcher && this.now() - this.refreshedAt < CREDENTIAL_REFRESH_MS) return this.dispatcher;
    const { server, tls, headers } = await this.credentials();
    this.origin = new URL(server).origin;
    const fingerprint = JSON.stringify([String(tls.ca), String(tls.cert), String(tls.key)]);
    if (!this.dispatcher || fingerprint !== this.tlsFingerprint) {
      const old = this.dispatcher;
      this.dispatcher = new Agent({ connect: tls as Record<string, unknown>, connections: 32, keepAliveTimeout: 30_000 });
      this.tlsFingerprint = fingerprint;
      void old?.close();
    }
    this.headers = headers;
    this.refreshedAt = this.now();
    return this.dispatcher;
  }

  private tlsFingerprint = '';
}
