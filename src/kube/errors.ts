import { KubeHttpError } from './lean-client.js';

/**
 * client-node's ApiException, recognised by shape: importing the class would load all of
 * client-node into Jobs, which do not otherwise use it.
 */
interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers: unknown;
}
function isApiException(err: unknown): err is ApiExceptionLike {
  return (
    err instanceof Error &&
    typeof (err as Partial<ApiExceptionLike>).code === 'number' &&
    'body' in err &&
    'headers' in err
  );
}

export function statusCode(err: unknown): number | undefined {
  if (isApiException(err)) return err.code;
  const code = (err as { code?: unknown; statusCode?: unknown })?.statusCode ?? (err as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export const isNotFound = (err: unknown) => statusCode(err) === 404;
export const isAlreadyExists = (err: unknown) => statusCode(err) === 409 && /already exists/i.test(apiMessage(err));
export const isConflict = (err: unknown) => statusCode(err) === 409 && !isAlreadyExists(err);
/** The API server refused the object itself (422): sending it again can only fail the same way. */
export const isInvalid = (err: unknown) => statusCode(err) === 422;

/** The API server's own message, without client-node's wrapping of headers and bodies. */
export function apiMessage(err: unknown): string {
  if (err instanceof KubeHttpError) {
    try {
      return String(JSON.parse(err.body)?.message ?? `HTTP ${err.code}`);
    } catch {
      return `HTTP ${err.code}`;
    }
  }
  if (isApiException(err)) {
    try {
      const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body;
      if (body?.message) return String(body.message);
    } catch {
      // not JSON: fall through
    }
    return `HTTP ${err.code}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** A write lost a race with another writer; re-read and decide again. */
export class ConflictError extends Error {}
