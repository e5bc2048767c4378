import { describe, expect, it } from 'vitest';
import { classifyS3Error } from '../../src/storage/s3-errors.js';
import { endpointUrl, partSizeFor, S3_PART_SIZE } from '../../src/storage/s3.js';

describe('endpointUrl', () => {
  it('reads an endpoint as the seed writes it (no scheme) as https', () => {
    expect(endpointUrl('s3.example.com')).toBe('https://s3.example.com');
    expect(endpointUrl('s3.example.com:9000/')).toBe('https://s3.example.com:9000');
  });
  it('keeps an explicit scheme', () => {
    expect(endpointUrl('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000');
    expect(endpointUrl('https://minio.storage.svc')).toBe('https://minio.storage.svc');
  });
});

describe('classifyS3Error', () => {
  const s3err = (name: string, status: number) =>
    Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });
  it.each([
    [s3err('NoSuchBucket', 404), 'BucketNotFound'],
    [s3err('InvalidAccessKeyId', 403), 'StorageAccessDenied'],
    [s3err('SignatureDoesNotMatch', 403), 'StorageAccessDenied'],
    [s3err('AccessDenied', 403), 'StorageAccessDenied'],
    [s3err('SlowDown', 503), 'StorageUnavailable'],
    [s3err('XMinioServerNotInitialized', 503), 'StorageUnavailable'],
    [s3err('InternalError', 500), 'StorageUnavailable'],
    [s3err('Unknown', 502), 'StorageUnavailable'],
    [s3err('NoSuchUpload', 404), 'StorageUnavailable'],
    [s3err('ClientDisconnected', 400), 'StorageUnavailable'],
    [s3err('InvalidPart', 400), 'StorageError'],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }), 'StorageUnreachable'],
    [Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'StorageUnreachable'],
    [Object.assign(new Error('getaddrinfo ENOTFOUND s3.invalid'), { code: 'ENOTFOUND' }), 'StorageUnreachable'],
    [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'StorageTimeout'],
    [Object.assign(new Error('read ECONNRESET'), { name: 'TimeoutError', code: 'ECONNRESET' }), 'StorageUnreachable'],
    [
      Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }),
      'StorageTLSError',
    ],
    [
      Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
      'StorageTLSError',
    ],
    [
      Object.assign(new Error("Hostname/IP does not match certificate's altnames"), {
        code: 'ERR_TLS_CERT_ALTNAME_INVALID',
      }),
      'StorageTLSError',
    ],
  ])('%s → %s', (err, reason) => {
    expect(classifyS3Error(err, 's3://b/k').reason).toBe(reason);
    expect(classifyS3Error(err, 's3://b/k').message).toContain('s3://b/k');
  });
});

describe('partSizeFor', () => {
  it("keeps S3's 5 MiB minimum for ordinary archives and grows within the 10,000-part limit", () => {
    expect(partSizeFor(undefined)).toBe(S3_PART_SIZE);
    expect(partSizeFor(1024 ** 3)).toBe(S3_PART_SIZE);
    const huge = 200 * 1024 ** 3;
    expect(partSizeFor(huge) % 2 ** 20).toBe(0);
    expect(Math.ceil(huge / partSizeFor(huge))).toBeLessThanOrEqual(10_000);
  });
});
