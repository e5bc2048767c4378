import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { networkError, RegistryError } from './registry-error.js';

export interface Exchange {
  method: string;
  url: URL;
  headers?: Record<string, string | number>;
  /**
   * A small body, or a writer that streams one into the request and ends it. The writer must
   * stop, without ending the request, once `refused()` is true: the server has answered early,
   * and an ended request would look complete to it.
   */
  body?: Buffer | BodyWriter;
  agent: http.Agent;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
}

export type BodyWriter = (req: ClientRequest, refused: () => boolean) => Promise<void>;

/**
 * One HTTP request on node:http(s), resolving with the response once the whole body was sent
 * (or earlier, when the server answers before reading it all). Socket failures and timeouts
 * become RegistryErrors; a failing body writer (its source failed) rejects with its own error.
 */
export function exchange(x: Exchange): Promise<IncomingMessage> {
  const where = x.url.host;
  return new Promise((resolve, reject) => {
    const lib = x.url.protocol === 'https:' ? https : http;
    const req = lib.request(x.url, { method: x.method, headers: x.headers ?? {}, agent: x.agent });
    let settled = false;
    let response: IncomingMessage | undefined;
    let bodySent = typeof x.body !== 'function';
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(connectTimer);
      fn();
    };
    const fail = (err: unknown) =>
      settle(() => {
        req.destroy();
        reject(err);
      });
    const connectTimer = setTimeout(() => {
      req.destroy(Object.assign(new Error(`no connection within ${x.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, x.connectTimeoutMs);
    req.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connectTimer);
      else socket.once(x.url.protocol === 'https:' ? 'secureConnect' : 'connect', () => clearTimeout(connectTimer));
    });
    req.setTimeout(x.idleTimeoutMs, () => {
      req.destroy(Object.assign(new Error(`no data for ${x.idleTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
    });
    req.on('error', (err) => fail(networkError(err, where)));
    req.on('response', (res) => {
      response = res;
      if (bodySent) return settle(() => resolve(res));
      if ((res.statusCode ?? 0) >= 300) {
        // The connection carries a half-sent body: it is closed once the answer has been read.
        res.once('close', () => req.destroy());
        settle(() => resolve(res));
      }
    });
    if (typeof x.body === 'function') {
      x.body(req, () => response !== undefined).then(
        () => {
          bodySent = true;
          if (response) settle(() => resolve(response!));
        },
        (err: unknown) => {
          // Only a socket problem destroys the request while the body is being written: the
          // writer then reports the connection's failure, not its own.
          fail(req.destroyed ? networkError(err, where) : err);
        },
      );
    } else {
      req.end(x.body);
    }
  });
}

/** Resolves when the request can take more, rejects when it was closed meanwhile. */
export function drained(req: ClientRequest): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error) => {
      req.off('drain', onDrain).off('close', onClose).off('error', done);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(Object.assign(new Error('connection closed while sending'), { code: 'ECONNRESET' }));
    req.on('drain', onDrain).on('close', onClose).on('error', done);
  });
}

/** The response body, at most `limit` bytes (a larger one is an error, not a truncation). */
export async function readBody(res: IncomingMessage, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      size += (chunk as Buffer).length;
      if (size > limit) {
        res.destroy();
        throw new RegistryError('RegistryError', `${what}: response larger than ${limit} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    throw networkError(err, res.socket?.remoteAddress ? `${res.socket.remoteAddress}:${res.socket.remotePort}` : what);
  }
  return Buffer.concat(chunks);
}

const ERROR_BODY_LIMIT = 64 * 1024;

/**
 * What an error response says, as far as it arrived: a server refusing a half-sent upload may
 * close the connection right after its answer, and the status is the news, not the body.
 */
export async function readErrorBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= ERROR_BODY_LIMIT) break;
    }
  } catch {
    // Keep what arrived.
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT);
}

/** Reads and drops a response body so its connection can be reused. */
export function discard(res: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    res
      .on('end', resolve)
      .on('error', () => resolve())
      .on('close', resolve);
    res.resume();
  });
}
