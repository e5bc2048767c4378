/**
 * Whether a failed API request is worth repeating as it is: the server was unreachable, dropped
 * the connection, or said it is overloaded or briefly unable to serve (429, 500, 502, 503, 504:
 * what an API server answers while etcd is down or it is restarting). Everything else (4xx) is
 * an answer that repeating will not change.
 */
const TRANSIENT_HTTP = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
]);

export function isTransient(err: unknown, depth = 0): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') return TRANSIENT_HTTP.has(code);
  if (typeof code === 'string' && TRANSIENT_SOCKET.has(code)) return true;
  // fetch (undici, under client-node) reports a failed request as TypeError('fetch failed') with
  // the socket or TLS error as its cause: that cause decides.
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  if (cause !== undefined && cause !== err && depth < 3) return isTransient(cause, depth + 1);
  const message = err instanceof Error ? err.message : '';
  return /socket disconnected|socket hang up|no response within|other side closed/i.test(message);
}
