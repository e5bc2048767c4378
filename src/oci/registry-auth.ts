import type http from 'node:http';
import type { RegistryCredentials } from './docker-config.js';
import { discard, exchange, readBody, readErrorBody } from './http-exchange.js';
import { RegistryError, registryErrorCodes } from './registry-error.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** The first Basic or Bearer challenge of a `WWW-Authenticate` header. */
export function parseChallenge(header: string | string[] | undefined): Challenge | undefined {
  const value = Array.isArray(header) ? header.join(', ') : header;
  const m = value ? /^\s*(basic|bearer)\b(.*)$/i.exec(value) : null;
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/([A-Za-z_][\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
  }
  return { scheme: m[1]!.toLowerCase() as Challenge['scheme'], params };
}

export function basicAuthorization(c: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64')}`;
}

export interface TokenRequest {
  challenge: Challenge;
  scope: string;
  credentials: RegistryCredentials | undefined;
  agentFor(url: URL): http.Agent;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

/**
 * A bearer token from the challenge's realm (the Docker token protocol): GET with service and
 * scope, with Basic credentials when there are any. Returns the Authorization header value.
 */
export async function fetchBearerToken(t: TokenRequest): Promise<string> {
  const realm = t.challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new RegistryError(
      'RegistryAuthFailed',
      `the registry asked for a token from an invalid realm ${JSON.stringify(realm)}`,
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new RegistryError('RegistryAuthFailed', `the registry's token realm ${url.origin} is not http(s)`);
  }
  if (t.challenge.params.service) url.searchParams.set('service', t.challenge.params.service);
  url.searchParams.set('scope', t.scope);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (t.credentials) headers.authorization = basicAuthorization(t.credentials);
  const res = await exchange({
    method: 'GET',
    url,
    headers,
    agent: t.agentFor(url),
    connectTimeoutMs: t.connectTimeoutMs,
    idleTimeoutMs: t.idleTimeoutMs,
  });
  const where = `token endpoint ${url.origin}${url.pathname}`;
  if (res.statusCode === 401 || res.statusCode === 403) {
    const { text } = registryErrorCodes(await readErrorBody(res));
    throw new RegistryError(
      'RegistryAuthFailed',
      `${where} refused ${t.credentials ? `the credentials of ${t.credentials.username}` : 'anonymous access'}: HTTP ${res.statusCode}${text ? ` (${text})` : ''}`,
      { status: res.statusCode },
    );
  }
  if (res.statusCode !== 200) {
    await discard(res);
    throw new RegistryError('RegistryAuthFailed', `${where} answered HTTP ${res.statusCode}`, {
      status: res.statusCode!,
    });
  }
  const body = await readBody(res, 1024 * 1024, where);
  let token: unknown;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { token?: unknown; access_token?: unknown };
    token = parsed.token ?? parsed.access_token;
  } catch {
    // Reported below; the body may hold a token and is never quoted.
  }
  if (typeof token !== 'string' || token.length === 0)
    throw new RegistryError('RegistryAuthFailed', `${where} answered without a token`);
  return `Bearer ${token}`;
}
