/**
 * Whether a failed API request is worth repeating as it is: the server was unreachable, dropped
 * the connection, or said it is overloaded or briefly unable to serve (429, 500, 502, 503, 504:
 * what an API server answers while etcd is down or it is restarting). Everything else (4xx) is
 * an answer that repeating will not change.
 */
const TRANSIENT_HTTP = new Set([429, 500, 502, 503, 504]);
const TRANSIENT_SOCKET = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ECONNABORTED']);

export function isTransient(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') return TRANSIENT_HTTP.has(code);
  if (typeof code === 'string' && TRANSIENT_SOCKET.has(code)) return true;
  const message = err instanceof Error ? err.message : '';
  return /socket disconnected|socket hang up|no response within/i.test(message);
}
