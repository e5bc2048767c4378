import { describe, expect, it } from 'vitest';
import { jobSecretContent } from '../../src/dispatcher/shared/job-secrets.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const creds = { AWS_ACCESS_KEY_ID: b64('AKID'), AWS_SECRET_ACCESS_KEY: b64('secret') };
const DEFAULT = 'checkpoint-operator-s3-credentials';

describe('jobSecretContent', () => {
  it('copies the named credentials (and a session token) and nothing else', () => {
    const r = jobSecretContent(
      { credentials: { namespace: 'a', name: 's' } },
      { credentials: { ...creds, AWS_SESSION_TOKEN: b64('t'), other: b64('x') } },
      DEFAULT,
    );
    expect(r).toEqual({
      ok: true,
      credentials: 'secret',
      caBundle: false,
      data: { ...creds, AWS_SESSION_TOKEN: b64('t') },
    });
  });

  it("falls back to the operator's default Secret, then to the Job's ambient identity", () => {
    expect(jobSecretContent({}, { operatorDefault: creds }, DEFAULT)).toEqual({
      ok: true,
      credentials: 'secret',
      caBundle: false,
      data: creds,
    });
    expect(jobSecretContent({}, {}, DEFAULT)).toEqual({ ok: true, credentials: 'ambient', caBundle: false, data: {} });
  });

  it('never falls back when a named Secret is missing', () => {
    const r = jobSecretContent({ credentials: { namespace: 'a', name: 's' } }, { operatorDefault: creds }, DEFAULT);
    expect(r).toEqual({
      ok: false,
      reason: 'CredentialsNotFound',
      message: 'Secret a/s with the S3 credentials does not exist',
    });
  });

  it('names the missing keys', () => {
    const r = jobSecretContent(
      { credentials: { namespace: 'a', name: 's' } },
      { credentials: { AWS_ACCESS_KEY_ID: b64('AKID') } },
      DEFAULT,
    );
    expect(r).toMatchObject({
      ok: false,
      reason: 'CredentialsIncomplete',
      message: 'Secret a/s lacks AWS_SECRET_ACCESS_KEY',
    });
    const d = jobSecretContent({}, { operatorDefault: {} }, DEFAULT);
    expect(d).toMatchObject({ ok: false, reason: 'CredentialsIncomplete' });
    expect(!d.ok && d.message).toContain(DEFAULT);
  });

  it('adds the CA bundle under ca.crt from whichever key the reference names', () => {
    const r = jobSecretContent(
      { caBundle: { namespace: 'a', name: 'ca', key: 'bundle.pem' } },
      { caBundle: { 'bundle.pem': b64('PEM') } },
      DEFAULT,
    );
    expect(r).toEqual({ ok: true, credentials: 'ambient', caBundle: true, data: { 'ca.crt': b64('PEM') } });
    expect(
      jobSecretContent({ caBundle: { namespace: 'a', name: 'ca', key: 'x' } }, { caBundle: {} }, DEFAULT),
    ).toMatchObject({ ok: false, reason: 'CABundleNotFound', message: 'Secret a/ca has no key x' });
    expect(jobSecretContent({ caBundle: { namespace: 'a', name: 'ca', key: 'x' } }, {}, DEFAULT)).toMatchObject({
      ok: false,
      reason: 'CABundleNotFound',
    });
  });
});
