import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { BlobVerifier } from './blob-verifier.js';
import { sha256Digest } from './checkpoint-image.js';
import type { RegistryCredentials } from './docker-config.js';
import { type BodyWriter, discard, drained, exchange, readBody, readErrorBody } from './http-exchange.js';
import {
  isSha256Digest,
  isValidTag,
  parseRepository,
  registryBaseUrl,
  type Repository,
  repositoryName,
} from './image-reference.js';
import { basicAuthorization, fetchBearerToken, parseChallenge } from './registry-auth.js';
import { RegistryError, registryErrorCodes, statusError } from './registry-error.js';

export interface RegistryClientOptions {
  /** `host[:port]/path`: the repository every call of this client works on. */
  repository: string;
  credentials?: RegistryCredentials;
  /** Plain HTTP for a non-loopback registry (loopback registries are spoken to over HTTP anyway). */
  insecure?: boolean;
  /**
   * PEM bundle trusted, instead of the default roots, for the registry and its token endpoint.
   * Given one, the registry is spoken to over HTTPS even on loopback.
   */
  ca?: Buffer;
  /** What to ask a token endpoint for (default pull and push). */
  actions?: ('pull' | 'push')[];
  connectTimeoutMs?: number;
  /** Longest silence on a connection, sending or receiving, before it counts as dead. */
  idleTimeoutMs?: number;
}

export interface FetchedManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

const MANIFEST_LIMIT = 4 * 1024 * 1024;
const MAX_REDIRECTS = 5;

/**
 * An OCI distribution API client for one repository, on node:http(s) with keep-alive, so a Job
 * that loads it stays quick to start. Anonymous, Basic and Bearer (token) auth; the token is
 * kept for the client's life. Blobs stream through with bounded buffers and are committed only
 * once their size and sha256 are what the caller expected.
 */
export class RegistryClient {
  readonly repository: Repository;
  private readonly base: URL;
  private readonly agents = new Map<string, http.Agent>();
  private authorization: string | undefined;
  private readonly connectTimeoutMs: number;
  private readonly idleTimeoutMs: number;

  constructor(private readonly opts: RegistryClientOptions) {
    this.repository = parseRepository(opts.repository);
    this.base = new URL(
      registryBaseUrl(this.repository.host, { insecure: opts.insecure ?? false, tls: opts.ca !== undefined }),
    );
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
  }

  /** `host[:port]/path`, as image references write it. */
  get name(): string {
    return repositoryName(this.repository);
  }

  async blobExists(digest: string): Promise<boolean> {
    assertDigest(digest);
    const res = await this.send('HEAD', this.url(`blobs/${digest}`));
    await discard(res);
    if (res.statusCode === 200) return true;
    if (res.statusCode === 404) return false;
    throw statusError(res.statusCode ?? 0, Buffer.alloc(0), `HEAD blob ${digest} in ${this.name}`);
  }

  /**
   * Streams a blob into the repository in one PATCH, hashing and counting on the way, and
   * commits it only when it is exactly `expected`; otherwise the upload session is deleted and
   * SizeMismatch or ChecksumMismatch thrown. The source is read to its end either way, even
   * when the registry already has the blob, so what the caller handed over is always verified.
   */
  async uploadBlob(
    source: AsyncIterable<Buffer> | Readable,
    expected: { digest: string; size: number },
  ): Promise<{ digest: string; size: number; existed: boolean }> {
    assertDigest(expected.digest);
    const verifier = new BlobVerifier(expected);
    if (await this.blobExists(expected.digest)) {
      for await (const chunk of source) verifier.update(chunk as Buffer);
      verifier.verify();
      return { ...expected, existed: true };
    }
    const started = await this.send('POST', this.url('blobs/uploads/'), { 'content-length': 0 });
    await this.expect(started, 202, `start of a blob upload to ${this.name}`);
    let location = this.location(started, undefined);
    let abandoned: unknown;
    try {
      const writer: BodyWriter = async (req, refused) => {
        try {
          for await (const chunk of source) {
            if (refused()) return;
            verifier.update(chunk as Buffer);
            if (!req.write(chunk)) await drained(req);
          }
        } catch (err) {
          if (refused() || req.destroyed) throw err;
          // The source failed or overran: the request still ends cleanly, because only a
          // session state the registry agrees with lets the cancel below remove what was sent.
          abandoned = err;
        }
        req.end();
      };
      const sent = await this.send('PATCH', location, { 'content-type': 'application/octet-stream' }, writer);
      await this.expect(sent, 202, `upload of blob ${expected.digest} to ${this.name}`);
      location = this.location(sent, location);
      if (abandoned) throw abandoned;
      verifier.verify();
    } catch (err) {
      await this.cancelUpload(location);
      throw err;
    }
    const commit = new URL(location);
    commit.searchParams.set('digest', expected.digest);
    const committed = await this.send('PUT', commit, { 'content-length': 0 });
    await this.expect(committed, 201, `commit of blob ${expected.digest} to ${this.name}`);
    const stored = committed.headers['docker-content-digest'];
    if (typeof stored === 'string' && stored !== expected.digest) {
      throw new RegistryError('ChecksumMismatch', `the registry stored blob ${expected.digest} as ${stored}`);
    }
    return { ...expected, existed: false };
  }

  /** Stores a manifest or index under a tag or its digest; returns its digest, checked against the registry's. */
  async putManifest(reference: string, bytes: Buffer, mediaType: string): Promise<string> {
    assertReference(reference);
    const digest = sha256Digest(bytes);
    if (isSha256Digest(reference) && reference !== digest) {
      throw new RegistryError('ChecksumMismatch', `manifest content has digest ${digest}, not ${reference}`);
    }
    const res = await this.send(
      'PUT',
      this.url(`manifests/${reference}`),
      { 'content-type': mediaType, 'content-length': bytes.length },
      bytes,
    );
    await this.expect(res, 201, `push of manifest ${reference} to ${this.name}`);
    const stored = res.headers['docker-content-digest'];
    if (typeof stored === 'string' && stored !== digest) {
      throw new RegistryError('ChecksumMismatch', `the registry stored manifest ${digest} as ${stored}`);
    }
    return digest;
  }

  /**
   * Deletes a manifest or index by digest (which also removes every tag pointing at it). False
   * when the registry no longer has it. Registries that do not allow deletes answer 405
   * (UNSUPPORTED), thrown as a RegistryError like any other refusal.
   */
  async deleteManifest(digest: string): Promise<boolean> {
    assertDigest(digest);
    return this.deleteAt(this.url(`manifests/${digest}`), `DELETE manifest ${digest} in ${this.name}`);
  }

  /**
   * Unlinks a blob from this repository (the registry frees its bytes in its own garbage
   * collection). False when the repository no longer has it.
   */
  async deleteBlob(digest: string): Promise<boolean> {
    assertDigest(digest);
    return this.deleteAt(this.url(`blobs/${digest}`), `DELETE blob ${digest} in ${this.name}`);
  }

  /** A manifest or index; fetched by digest, its content is checked against that digest. */
  async getManifest(reference: string, accept: string[]): Promise<FetchedManifest> {
    assertReference(reference);
    const res = await this.send('GET', this.url(`manifests/${reference}`), { accept: accept.join(', ') });
    const what = `manifest ${reference} in ${this.name}`;
    if (res.statusCode !== 200) throw statusError(res.statusCode ?? 0, await readErrorBody(res), `GET ${what}`);
    const bytes = await readBody(res, MANIFEST_LIMIT, what);
    const digest = sha256Digest(bytes);
    if (isSha256Digest(reference) && digest !== reference) {
      throw new RegistryError('ChecksumMismatch', `the registry returned content with digest ${digest} for ${what}`);
    }
    const mediaType = String(res.headers['content-type'] ?? '')
      .split(';')[0]!
      .trim();
    return { bytes, mediaType, digest };
  }

  /** The blob's bytes as a stream (redirects followed); the caller verifies them. */
  async openBlob(digest: string): Promise<IncomingMessage> {
    assertDigest(digest);
    let url = this.url(`blobs/${digest}`);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const res = await this.send('GET', url);
      const status = res.statusCode ?? 0;
      if (status === 200) return res;
      if ([301, 302, 303, 307, 308].includes(status) && res.headers.location) {
        await discard(res);
        url = new URL(res.headers.location, url);
        continue;
      }
      throw statusError(status, await readErrorBody(res), `GET blob ${digest} in ${this.name}`);
    }
    throw new RegistryError(
      'RegistryError',
      `GET blob ${digest} in ${this.name}: more than ${MAX_REDIRECTS} redirects`,
    );
  }

  private async deleteAt(url: URL, what: string): Promise<boolean> {
    const res = await this.send('DELETE', url);
    const status = res.statusCode ?? 0;
    if (status === 202 || status === 200 || status === 204) {
      await discard(res);
      return true;
    }
    const body = await readErrorBody(res);
    if (status === 404) return false;
    throw statusError(status, body, what);
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }

  private url(path: string): URL {
    return new URL(`/v2/${this.repository.path}/${path}`, this.base);
  }

  /**
   * A request with this client's credentials. On a 401 the challenge is answered (Basic, or a
   * token for Bearer) and the request repeated once; a streamed body cannot be repeated, which
   * is why uploads start with a bodiless POST that settles authentication first.
   */
  private async send(
    method: string,
    url: URL,
    headers: Record<string, string | number> = {},
    body?: Buffer | BodyWriter,
  ): Promise<IncomingMessage> {
    const attempt = () =>
      exchange({
        method,
        url,
        body,
        agent: this.agentFor(url),
        connectTimeoutMs: this.connectTimeoutMs,
        idleTimeoutMs: this.idleTimeoutMs,
        // Credentials go to the registry only, never to a host it redirects to.
        headers: {
          'user-agent': 'checkpoint-operator',
          ...headers,
          ...(this.authorization && url.origin === this.base.origin ? { authorization: this.authorization } : {}),
        },
      });
    const first = await attempt();
    if (first.statusCode !== 401 || url.origin !== this.base.origin) return first;
    const challenge = parseChallenge(first.headers['www-authenticate']);
    const refusedBody = await readErrorBody(first);
    const sentBefore = this.authorization;
    if (!challenge || typeof body === 'function') throw this.authFailure(method, url, refusedBody);
    if (challenge.scheme === 'basic') {
      if (!this.opts.credentials) throw this.authFailure(method, url, refusedBody);
      this.authorization = basicAuthorization(this.opts.credentials);
      if (this.authorization === sentBefore) throw this.authFailure(method, url, refusedBody);
    } else {
      this.authorization = await fetchBearerToken({
        challenge,
        credentials: this.opts.credentials,
        scope: `repository:${this.repository.path}:${(this.opts.actions ?? ['pull', 'push']).join(',')}`,
        agentFor: (u) => this.agentFor(u),
        connectTimeoutMs: this.connectTimeoutMs,
        idleTimeoutMs: this.idleTimeoutMs,
      });
    }
    const second = await attempt();
    if (second.statusCode === 401) throw this.authFailure(method, url, await readErrorBody(second));
    return second;
  }

  private authFailure(method: string, url: URL, body: Buffer): RegistryError {
    const { code, text } = registryErrorCodes(body);
    const who = this.opts.credentials ? `the credentials of ${this.opts.credentials.username}` : 'anonymous access';
    return new RegistryError(
      'RegistryAuthFailed',
      `${method} ${url.host}${url.pathname}: HTTP 401${text ? ` (${text})` : ''}: the registry refused ${who}`,
      { status: 401, ...(code ? { code } : {}) },
    );
  }

  private async expect(res: IncomingMessage, status: number, what: string): Promise<void> {
    if (res.statusCode === status) return discard(res);
    throw statusError(res.statusCode ?? 0, await readErrorBody(res), what);
  }

  private location(res: IncomingMessage, previous: URL | undefined): URL {
    const header = res.headers.location;
    if (!header) {
      if (previous) return previous;
      throw new RegistryError('RegistryError', `the registry started an upload to ${this.name} without a Location`);
    }
    return new URL(header, this.base);
  }

  /** Abandons an upload session, so the registry holds nothing of an unverified blob. */
  private async cancelUpload(location: URL): Promise<void> {
    try {
      await discard(await this.send('DELETE', location));
    } catch {
      // The registry expires abandoned sessions itself; the original failure is what matters.
    }
  }

  private agentFor(url: URL): http.Agent {
    let agent = this.agents.get(url.protocol);
    if (!agent) {
      agent =
        url.protocol === 'https:'
          ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(this.opts.ca ? { ca: this.opts.ca } : {}) })
          : new http.Agent({ keepAlive: true, maxSockets: 4 });
      this.agents.set(url.protocol, agent);
    }
    return agent;
  }
}

function assertDigest(digest: string): void {
  if (!isSha256Digest(digest))
    throw new RegistryError('RegistryError', `not a sha256 digest: ${JSON.stringify(digest)}`);
}

function assertReference(reference: string): void {
  if (!isSha256Digest(reference) && !isValidTag(reference))
    throw new RegistryError('RegistryError', `not a tag or sha256 digest: ${JSON.stringify(reference)}`);
}
