import { describe, expect, it } from 'vitest';
import { KubeHttpError } from '../../src/kube/lean-client.js';
import { isTransient } from '../../src/kube/transient.js';

const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:6443`), { code });

describe('isTransient', () => {
  it.each([429, 500, 502, 503, 504])('repeats HTTP %i', (status) => {
    expect(isTransient(new KubeHttpError(status, '{}', 'GET', '/x'))).toBe(true);
  });

  it.each([400, 401, 403, 404, 409, 410, 422])('does not repeat HTTP %i', (status) => {
    expect(isTransient(new KubeHttpError(status, '{}', 'GET', '/x'))).toBe(false);
  });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH'])('repeats %s', (code) => {
    expect(isTransient(socketError(code))).toBe(true);
  });

  it('repeats a connection dropped during the TLS handshake and a request with no answer', () => {
    expect(
      isTransient(new Error('Client network socket disconnected before secure TLS connection was established')),
    ).toBe(true);
    expect(isTransient(new Error('GET /x: no response within 300s'))).toBe(true);
  });

  it("repeats fetch's network failure, told by its cause, and not a fetch failure caused by a bad certificate", () => {
    expect(isTransient(new TypeError('fetch failed', { cause: socketError('ECONNREFUSED') }))).toBe(true);
    expect(isTransient(new TypeError('fetch failed', { cause: new Error('other side closed') }))).toBe(true);
    expect(
      isTransient(
        new TypeError('fetch failed', {
          cause: Object.assign(new Error('unable to verify the first certificate'), {
            code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
          }),
        }),
      ),
    ).toBe(false);
  });

  it('does not repeat a certificate or programming error', () => {
    expect(
      isTransient(Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' })),
    ).toBe(false);
    expect(isTransient(new TypeError('x is not a function'))).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });
});
