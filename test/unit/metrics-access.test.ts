import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import {
  bearerToken,
  CachedAccessReviews,
  decideMetricsAccess,
  type AccessReviews,
  type Identity,
} from '../../src/observability/metrics-access.js';

const prometheus: Identity = {
  username: 'system:serviceaccount:monitoring:prometheus',
  uid: 'u1',
  groups: ['system:serviceaccounts'],
};

/** An API server that knows one token and grants /metrics to the identities listed. */
function reviews(granted: string[] = [prometheus.username]) {
  const asked = { authn: 0, authz: 0 };
  const r: AccessReviews = {
    async authenticate(token) {
      asked.authn++;
      if (token === 'unreachable') throw new Error('connect ECONNREFUSED');
      return token === 'prom-token'
        ? { authenticated: true, user: prometheus }
        : { authenticated: false, reason: 'invalid bearer token' };
    },
    async authorize(user, path) {
      asked.authz++;
      return granted.includes(user.username) && path === '/metrics'
        ? { allowed: true }
        : { allowed: false, reason: 'no RBAC policy matched' };
    },
  };
  return { r, asked };
}

describe('who may read /metrics on the secure port', () => {
  it('reads the bearer token of an Authorization header, and nothing else', () => {
    expect(bearerToken('Bearer abc.def')).toBe('abc.def');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Basic dXNlcjpwYXNz')).toBeUndefined();
    expect(bearerToken('Bearer ')).toBeUndefined();
    expect(bearerToken('Bearer a b')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('lets an identity the API server vouches for and RBAC allows read it', async () => {
    expect(await decideMetricsAccess('Bearer prom-token', '/metrics', reviews().r)).toEqual({
      kind: 'allow',
      user: prometheus.username,
    });
  });

  it('answers 401 without a token, without asking the API server', async () => {
    const { r, asked } = reviews();
    expect(await decideMetricsAccess(undefined, '/metrics', r)).toMatchObject({ kind: 'deny', status: 401 });
    expect(asked).toEqual({ authn: 0, authz: 0 });
  });

  it('answers 401 for a token the API server does not accept, with its reason', async () => {
    expect(await decideMetricsAccess('Bearer forged', '/metrics', reviews().r)).toEqual({
      kind: 'deny',
      status: 401,
      message: 'the token was not accepted: invalid bearer token',
    });
  });

  it('answers 403 for an identity without the role, naming the identity and the role to bind', async () => {
    const access = await decideMetricsAccess('Bearer prom-token', '/metrics', reviews([]).r);
    expect(access).toMatchObject({ kind: 'deny', status: 403 });
    expect((access as { message: string }).message).toContain(
      'system:serviceaccount:monitoring:prometheus may not get /metrics (no RBAC policy matched)',
    );
    expect((access as { message: string }).message).toContain('checkpoint-operator-metrics-reader');
  });

  it('denies when the reviews cannot be made: metrics are never served unchecked', async () => {
    expect(await decideMetricsAccess('Bearer unreachable', '/metrics', reviews().r)).toMatchObject({
      kind: 'deny',
      status: 401,
    });
  });
});

describe('review answers kept for a short while', () => {
  it('asks once per minute for a scraper that keeps being allowed', async () => {
    const clock = new ManualClock(0);
    const { r, asked } = reviews();
    const cached = new CachedAccessReviews(r, clock);
    for (let i = 0; i < 4; i++) {
      expect((await decideMetricsAccess('Bearer prom-token', '/metrics', cached)).kind).toBe('allow');
      clock.advance(15_000);
    }
    expect(asked).toEqual({ authn: 1, authz: 1 });
    await decideMetricsAccess('Bearer prom-token', '/metrics', cached);
    expect(asked).toEqual({ authn: 2, authz: 2 });
  });

  it('keeps a denial for 10 s only, so a role bound afterwards takes effect soon', async () => {
    const clock = new ManualClock(0);
    const granted: string[] = [];
    const { r } = reviews(granted);
    const cached = new CachedAccessReviews(r, clock);
    expect((await decideMetricsAccess('Bearer prom-token', '/metrics', cached)).kind).toBe('deny');
    granted.push(prometheus.username);
    clock.advance(5_000);
    expect((await decideMetricsAccess('Bearer prom-token', '/metrics', cached)).kind).toBe('deny');
    clock.advance(6_000);
    expect((await decideMetricsAccess('Bearer prom-token', '/metrics', cached)).kind).toBe('allow');
  });

  it('does not remember failures to ask, and holds a bounded number of answers', async () => {
    const clock = new ManualClock(0);
    const { r, asked } = reviews();
    const cached = new CachedAccessReviews(r, clock, { allowedMs: 60_000, deniedMs: 10_000 }, 3);
    await decideMetricsAccess('Bearer unreachable', '/metrics', cached);
    await decideMetricsAccess('Bearer unreachable', '/metrics', cached);
    expect(asked.authn).toBe(2);
    for (const t of ['a', 'b', 'c', 'd']) await decideMetricsAccess(`Bearer ${t}`, '/metrics', cached);
    expect(asked.authn).toBe(6);
    // 'a' was the oldest of four answers kept three at a time: asked again.
    await decideMetricsAccess('Bearer a', '/metrics', cached);
    expect(asked.authn).toBe(7);
    await decideMetricsAccess('Bearer d', '/metrics', cached);
    expect(asked.authn).toBe(7);
  });
});
