import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { watchWithTimeout, withAcceptHeader } from '../../src/kube/watch-internals.js';

// What the informers rely on in client-node's Watch beyond its documented API: if an upgrade
// changes either, these fail here instead of the dispatcher's watches failing in a cluster.

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((r) => server?.close(r) ?? r(undefined));
  server = undefined;
});

/** A loopback API server that answers a watch with headers and then stays silent. */
async function silentWatchServer(seen: IncomingHttpHeaders[]): Promise<KubeConfig> {
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true },
    ],
    users: [{ name: 'u', token: 'the-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('client-node Watch as the informers use it', () => {
  it('ends a watch that stays quiet for the timeout it was given', async () => {
    // The server never ends the watch, and client-node's own default would wait far longer than
    // this test's 5 s limit: only the timeout given ends it, with an error saying so.
    const kc = await silentWatchServer([]);
    const ended = await new Promise<unknown>((resolve) => {
      void watchWithTimeout(kc, 300).watch('/api/v1/pods', {}, () => undefined, resolve);
    });
    expect(String(ended)).toMatch(/abort|timeout/i);
  });

  it('sends the Accept header of a metadata-only watch, with the credentials of the real config', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const kc = await silentWatchServer(seen);
    const accept = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
    const request = await watchWithTimeout(withAcceptHeader(kc, accept), 60_000).watch(
      '/api/v1/pods',
      {},
      () => undefined,
      () => undefined,
    );
    await expect.poll(() => seen.length).toBe(1);
    request.abort();
    expect(seen[0]!.accept).toBe(accept);
    expect(seen[0]!.authorization).toBe('Bearer the-token');
  });
});
