import { isTlsError } from '../net/tls-errors.js';

/** What went wrong talking to S3, as a Checkpoint's one-word reason and a human message. */
export interface StorageFailure {
  reason:
    | 'StorageAccessDenied'
    | 'BucketNotFound'
    | 'StorageUnreachable'
    | 'StorageUnavailable'
    | 'StorageTimeout'
    | 'StorageTLSError'
    | 'StorageError';
  message: string;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);
/**
 * Answers that say the server cannot serve the request *now*: throttling, overload, a server
 * still starting (MinIO answers XMinioServerNotInitialized while it loads after a restart, and
 * ClientDisconnected for a part whose body was cut off when it stopped). S3 documents its
 * own (SlowDown, ServiceUnavailable, InternalError, 5xx) as ones to retry with backoff.
 */
const UNAVAILABLE = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'XMinioServerNotInitialized',
  'XMinioServerBusy',
  'ClientDisconnected',
]);
const UNAVAILABLE_STATUS = new Set([500, 502, 503, 504]);
const DENIED = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'Forbidden',
  'CredentialsProviderError',
]);

/**
 * Maps AWS SDK and socket errors to reasons. The SDK's messages never contain the secret key;
 * the access key id is the most they name.
 */
export function classifyS3Error(err: unknown, where: string): StorageFailure {
  const e = err as {
    name?: string;
    Code?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    cause?: unknown;
  };
  const name = e?.Code ?? e?.name ?? '';
  const code = e?.code ?? (e?.cause as { code?: string } | undefined)?.code ?? '';
  const text = e?.message ?? String(err);
  const status = e?.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket')
    return { reason: 'BucketNotFound', message: `bucket of ${where} does not exist: ${text}` };
  if (DENIED.has(name) || status === 403)
    return {
      reason: 'StorageAccessDenied',
      message: `S3 refused the credentials for ${where}: ${name || 'HTTP 403'}: ${text}`,
    };
  // The socket's code first: the SDK names ECONNRESET and EPIPE "TimeoutError" too.
  if (isTlsError(code)) {
    return {
      reason: 'StorageTLSError',
      message: `the TLS certificate of S3 at ${where} is not trusted (${code}); set caBundleSecretRef: ${text}`,
    };
  }
  if (NETWORK_CODES.has(code) || NETWORK_CODES.has(name))
    return { reason: 'StorageUnreachable', message: `cannot reach S3 for ${where}: ${code || name}: ${text}` };
  // The upload in progress is gone: the server restarted mid-part, or a lifecycle rule aborted
  // it. Nothing of it is kept, and an attempt starts over from the kubelet's archive.
  if (name === 'NoSuchUpload') {
    return {
      reason: 'StorageUnavailable',
      message: `S3 at ${where} no longer has the upload in progress (NoSuchUpload): ${text}`,
    };
  }
  if (UNAVAILABLE.has(name) || (status !== undefined && UNAVAILABLE_STATUS.has(status))) {
    return {
      reason: 'StorageUnavailable',
      message: `S3 at ${where} cannot serve the request now (${name || 'error'}, HTTP ${status ?? 'unknown'}): ${text}`,
    };
  }
  if (name === 'TimeoutError' || code === 'ETIMEDOUT' || name === 'RequestTimeout') {
    return { reason: 'StorageTimeout', message: `S3 at ${where} stopped answering: ${text}` };
  }
  return { reason: 'StorageError', message: `S3 request for ${where} failed: ${name ? `${name}: ` : ''}${text}` };
}
