import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isNotFound } from '../../src/kube/errors.js';
import { KubeHttpError, LeanKubeClient } from '../../src/kube/lean-client.js';
import type { ApiCredentials } from '../../src/kube/credentials.js';
import { generateCa, issueServingCert } from '../cluster/pki.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let dir: string;
let ca: Buffer;
let otherCa: Buffer;
let server: Server;
let port: number;
let connections = 0;
const seen: Seen[] = [];
let respond: (req: Seen, res: ServerResponse) => void = (_req, res) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');

async function listen(cert: { cert: string; key: string }): Promise<[Server, number]> {
  const s = createServer(
    { cert: await readFile(cert.cert), key: await readFile(cert.key), keepAliveTimeout: 60_000 },
    (req, res) => {
      let body = '';
      req
        .setEncoding('utf8')
        .on('data', (c: string) => {
          body += c;
        })
        .on('end', () => {
          const r = { method: req.method!, url: req.url!, headers: req.headers, body };
          seen.push(r);
          respond(r, res);
        });
    },
  );
  s.on('secureConnection', () => connections++);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return [s, (s.address() as { port: number }).port];
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lean-client-'));
  const authority = await generateCa(dir, 'ca', 'test CA');
  const other = await generateCa(dir, 'other', 'other CA');
  ca = await readFile(authority.caCert);
  otherCa = await readFile(other.caCert);
  const serving = await issueServingCert(authority, 'api', '127.0.0.1', { ips: ['127.0.0.1'] });
  [server, port] = await listen(serving);
});

afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

function credentials(state: { token: string; ca?: Buffer }): () => Promise<ApiCredentials> {
  return async () => ({
    server: `https://127.0.0.1:${port}`,
    tls: { ca: state.ca ?? ca, rejectUnauthorized: true },
    headers: { authorization: `Bearer ${state.token}` },
  });
}

describe('LeanKubeClient', () => {
  it('sends JSON with the credentials and the content type of each verb', async () => {
    seen.length = 0;
    const client = new LeanKubeClient(credentials({ token: 't1' }));
    try {
      expect(await client.get('/api/v1/namespaces/a/pods/p')).toEqual({ ok: true });
      await client.post('/api/v1/namespaces/a/events', { kind: 'Event', message: 'é' });
      await client.mergePatch('/apis/g/v1/namespaces/a/things/x/status', { status: { phase: 'Running' } });
      await client.delete('/api/v1/namespaces/a/secrets/s');
      await client.delete('/apis/g/v1/namespaces/a/things/x', {
        kind: 'DeleteOptions',
        apiVersion: 'v1',
        preconditions: { uid: 'u1' },
      });
    } finally {
      await client.close();
    }
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /api/v1/namespaces/a/pods/p',
      'POST /api/v1/namespaces/a/events',
      'PATCH /apis/g/v1/namespaces/a/things/x/status',
      'DELETE /api/v1/namespaces/a/secrets/s',
      'DELETE /apis/g/v1/namespaces/a/things/x',
    ]);
    expect(seen[3]!.body).toBe('');
    expect(seen[4]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[4]!.body)).toEqual({
      kind: 'DeleteOptions',
      apiVersion: 'v1',
      preconditions: { uid: 'u1' },
    });
    expect(seen.every((s) => s.headers.authorization === 'Bearer t1' && s.headers.accept === 'application/json')).toBe(
      true,
    );
    expect(seen[1]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[1]!.body)).toEqual({ kind: 'Event', message: 'é' });
    expect(seen[2]!.headers['content-type']).toBe('application/merge-patch+json');
    expect(seen[0]!.body).toBe('');
  });

  it('reports an API error with its status code and body', async () => {
    respond = (_req, res) =>
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"kind":"Status","code":404,"message":"not found"}');
    const client = new LeanKubeClient(credentials({ token: 't' }));
    try {
      const err = await client.get('/api/v1/namespaces/a/pods/gone').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KubeHttpError);
      expect((err as KubeHttpError).code).toBe(404);
      expect((err as KubeHttpError).body).toContain('not found');
      expect(isNotFound(err)).toBe(true);
    } finally {
      respond = (_req, res) => res.writeHead(200).end();
      await client.close();
    }
  });

  it('returns undefined for an empty body', async () => {
    const client = new LeanKubeClient(credentials({ token: 't' }));
    try {
      expect(await client.delete('/x')).toBeUndefined();
    } finally {
      respond = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      await client.close();
    }
  });

  it('keeps connections alive and picks up a rotated token within a minute', async () => {
    seen.length = 0;
    const state = { token: 'old' };
    let now = 1_000_000;
    const client = new LeanKubeClient(credentials(state), () => now);
    const before = connections;
    try {
      await client.get('/a');
      state.token = 'new';
      await client.get('/b');
      now += 60_000;
      await client.get('/c');
    } finally {
      await client.close();
    }
    expect(seen.map((s) => s.headers.authorization)).toEqual(['Bearer old', 'Bearer old', 'Bearer new']);
    expect(connections - before).toBe(1);
  });

  it('connects anew when the TLS credentials change', async () => {
    const state = { token: 't', ca };
    let now = 0;
    const client = new LeanKubeClient(credentials(state), () => now);
    try {
      await client.get('/a');
      // The kept-alive connection would still answer; only a new one checks the new CA.
      state.ca = otherCa;
      now += 60_000;
      await expect(client.get('/b')).rejects.toThrow(/certificate/);
      state.ca = ca;
      now += 60_000;
      expect(await client.get('/c')).toEqual({ ok: true });
    } finally {
      await client.close();
    }
  });

  it('refuses a server its CA did not sign', async () => {
    const client = new LeanKubeClient(credentials({ token: 't', ca: otherCa }));
    try {
      await expect(client.get('/a')).rejects.toThrow(/certificate/);
    } finally {
      await client.close();
    }
  });

  it('lets requests in flight finish when closed', async () => {
    let release: () => void = () => undefined;
    respond = (_req, res) => {
      release = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{"late":true}');
    };
    const client = new LeanKubeClient(credentials({ token: 't' }));
    try {
      const pending = client.get('/slow');
      await new Promise((r) => setTimeout(r, 100));
      const closing = client.close();
      release();
      expect(await pending).toEqual({ late: true });
      await closing;
      await expect(client.get('/after')).rejects.toThrow(/closed/);
    } finally {
      respond = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }
  });

  describe('with retry (as Jobs use it)', () => {
    const noWait = { sleep: async () => undefined };

    it('repeats a request the server answered 503 until it is served', async () => {
      let refusals = 2;
      respond = (_req, res) =>
        refusals-- > 0
          ? res
              .writeHead(503, { 'content-type': 'application/json' })
              .end('{"message":"etcdserver: request timed out"}')
          : res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      const client = new LeanKubeClient(credentials({ token: 't' }), Date.now, { forMs: 60_000, ...noWait });
      const before = seen.length;
      try {
        expect(await client.mergePatch('/status', { a: 1 })).toEqual({ ok: true });
        expect(seen.length - before).toBe(3);
      } finally {
        respond = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        await client.close();
      }
    });

    it('repeats a request while nothing listens, and gives up after its budget with the socket error', async () => {
      let now = 0;
      const client = new LeanKubeClient(
        async () => ({ server: 'https://127.0.0.1:1', tls: { ca, rejectUnauthorized: true }, headers: {} }),
        () => now,
        {
          forMs: 10_000,
          sleep: async (ms) => {
            now += ms;
          },
        },
      );
      try {
        await expect(client.get('/a')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
        expect(now).toBeGreaterThan(5_000);
        expect(now).toBeLessThanOrEqual(10_000);
      } finally {
        await client.close();
      }
    });

    it('does not repeat an answer that repeating cannot change (409, 404, 422)', async () => {
      respond = (_req, res) =>
        res.writeHead(409, { 'content-type': 'application/json' }).end('{"message":"the object has been modified"}');
      const client = new LeanKubeClient(credentials({ token: 't' }), Date.now, { forMs: 60_000, ...noWait });
      const before = seen.length;
      try {
        await expect(client.put('/x', {})).rejects.toBeInstanceOf(KubeHttpError);
        expect(seen.length - before).toBe(1);
      } finally {
        respond = (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        await client.close();
      }
    });
  });
});
