import { isTlsError } from '../net/tls-errors.js';

/** Why a registry operation failed, in one word a status condition can carry. */
export type RegistryErrorReason =
  | 'RegistryUnreachable'
  | 'RegistryTLSError'
  | 'RegistryAuthFailed'
  | 'RepositoryNotFound'
  | 'RegistryError'
  | 'ChecksumMismatch'
  | 'SizeMismatch';

/** A registry failure. Messages name hosts, paths and the registry's error codes, never credentials. */
export class RegistryError extends Error {
  constructor(
    readonly reason: RegistryErrorReason,
    message: string,
    readonly details: { status?: number; code?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RegistryError';
  }
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'EADDRNOTAVAIL',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** A socket-level failure talking to `where` (`host:port`), as a RegistryError. */
export function networkError(err: unknown, where: string): RegistryError {
  if (err instanceof RegistryError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = e?.code ?? '';
  const text = String(e?.message ?? err);
  if (isTlsError(code, text)) {
    return new RegistryError(
      'RegistryTLSError',
      `TLS with ${where} failed: ${code ? `${code}: ` : ''}${text}`,
      { code },
      { cause: err },
    );
  }
  const kind = UNREACHABLE.has(code) ? code : code || 'network error';
  return new RegistryError(
    'RegistryUnreachable',
    `registry ${where} is unreachable (${kind}): ${text}`,
    { code },
    { cause: err },
  );
}

/** The error codes a distribution registry put in its JSON body (`{"errors":[{"code","message"}]}`). */
export function registryErrorCodes(body: Buffer): { code?: string; text: string } {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
    const errors = Array.isArray(parsed.errors) ? parsed.errors : [];
    const code = errors.map((e) => e.code).find((c): c is string => typeof c === 'string');
    const text = errors
      .map((e) => [e.code, e.message].filter((x) => typeof x === 'string').join(': '))
      .filter(Boolean)
      .join('; ');
    return { ...(code ? { code } : {}), text };
  } catch {
    return { text: '' };
  }
}

/** The RegistryError an unexpected HTTP status means. */
export function statusError(status: number, body: Buffer, what: string): RegistryError {
  const { code, text } = registryErrorCodes(body);
  const detail = `${what}: HTTP ${status}${text ? ` (${text})` : ''}`;
  const details = { status, ...(code ? { code } : {}) };
  if (status === 401 || status === 403)
    return new RegistryError('RegistryAuthFailed', `${detail}: the registry refused the credentials`, details);
  if (status === 404 && code === 'NAME_UNKNOWN') return new RegistryError('RepositoryNotFound', detail, details);
  return new RegistryError('RegistryError', detail, details);
}
