import { createHash } from 'node:crypto';
import type { Clock } from '../clock/clock.js';

/**
 * Who may read /metrics on the secure port, decided as Kubebuilder projects decide it
 * (controller-runtime's WithAuthenticationAndAuthorization, formerly kube-rbac-proxy): the bearer
 * token is authenticated by the API server (TokenReview), and the identity it names must be allowed
 * `get` on the non-resource URL /metrics (SubjectAccessReview), which the
 * checkpoint-operator-metrics-reader ClusterRole grants.
 */
export interface Identity {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export type Authentication = { authenticated: true; user: Identity } | { authenticated: false; reason: string };
export type Authorization = { allowed: true } | { allowed: false; reason: string };

export interface AccessReviews {
  /** TokenReview: who the token belongs to, if anyone. */
  authenticate(token: string): Promise<Authentication>;
  /** SubjectAccessReview: may this identity get the non-resource path? */
  authorize(user: Identity, path: string): Promise<Authorization>;
}

export type MetricsAccess = { kind: 'allow'; user: string } | { kind: 'deny'; status: 401 | 403; message: string };

/** The bearer token of an Authorization header, or undefined when there is none. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/**
 * Decides one request. Any failure to ask the API server denies: metrics are never served to
 * someone we could not check.
 */
export async function decideMetricsAccess(
  authorization: string | undefined,
  path: string,
  reviews: AccessReviews,
): Promise<MetricsAccess> {
  const token = bearerToken(authorization);
  if (!token)
    return {
      kind: 'deny',
      status: 401,
      message: 'a bearer token is required (Authorization: Bearer <ServiceAccount token>)',
    };
  let authn: Authentication;
  try {
    authn = await reviews.authenticate(token);
  } catch (err) {
    return { kind: 'deny', status: 401, message: `the token could not be reviewed: ${(err as Error).message}` };
  }
  if (!authn.authenticated)
    return { kind: 'deny', status: 401, message: `the token was not accepted: ${authn.reason}` };
  let authz: Authorization;
  try {
    authz = await reviews.authorize(authn.user, path);
  } catch (err) {
    return { kind: 'deny', status: 403, message: `access could not be reviewed: ${(err as Error).message}` };
  }
  if (!authz.allowed) {
    return {
      kind: 'deny',
      status: 403,
      message: `${authn.user.username} may not get ${path}${authz.reason ? ` (${authz.reason})` : ''}; bind the checkpoint-operator-metrics-reader ClusterRole to it`,
    };
  }
  return { kind: 'allow', user: authn.user.username };
}

/**
 * Remembers review answers for a short while, as the API server's own webhook authenticator and
 * authorizer caches do: a Prometheus scraping two replicas every 30 s then costs the API server
 * two reviews a minute, not four per scrape. Denials are kept for less time than grants, so
 * a newly bound role takes effect quickly. Tokens are kept only as their SHA-256.
 */
export class CachedAccessReviews implements AccessReviews {
  private readonly authn = new Map<string, { at: number; value: Authentication }>();
  private readonly authz = new Map<string, { at: number; value: Authorization }>();

  constructor(
    private readonly inner: AccessReviews,
    private readonly clock: Clock,
    private readonly ttl = { allowedMs: 60_000, deniedMs: 10_000 },
    private readonly maxEntries = 1024,
  ) {}

  async authenticate(token: string): Promise<Authentication> {
    const key = createHash('sha256').update(token).digest('hex');
    return this.remember(
      this.authn,
      key,
      (v) => v.authenticated,
      () => this.inner.authenticate(token),
    );
  }

  async authorize(user: Identity, path: string): Promise<Authorization> {
    const key = JSON.stringify([user.username, user.uid, [...(user.groups ?? [])].sort(), user.extra ?? {}, path]);
    return this.remember(
      this.authz,
      key,
      (v) => v.allowed,
      () => this.inner.authorize(user, path),
    );
  }

  private async remember<T>(
    cache: Map<string, { at: number; value: T }>,
    key: string,
    good: (v: T) => boolean,
    ask: () => Promise<T>,
  ): Promise<T> {
    const now = this.clock.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < (good(hit.value) ? this.ttl.allowedMs : this.ttl.deniedMs)) return hit.value;
    const value = await ask();
    // Bounded: a flood of made-up tokens must not grow the dispatcher's memory.
    if (cache.size >= this.maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(key, { at: this.clock.now(), value });
    return value;
  }
}
