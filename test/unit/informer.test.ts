import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ResilientInformer } from '../../src/kube/informer.js';
import { createLogger } from '../../src/observability/logger.js';

type Obj = {
  metadata: { namespace: string; name: string; resourceVersion: string; managedFields?: { manager?: string }[] };
  spec?: unknown;
};
const obj = (name: string, rv: string): Obj => ({
  metadata: { namespace: 'ns', name, resourceVersion: rv, managedFields: [{ manager: 'm' }] },
  spec: { name },
});

/**
 * A fake API server for one collection: lists in pages from `objects`, and hands each watch
 * request to the test, which writes events or ends it.
 */
class FakeApi {
  objects: Obj[] = [];
  listVersion = '10';
  lists: URLSearchParams[] = [];
  watches: { query: URLSearchParams; res: ServerResponse }[] = [];
  watchStatus = 200;
  private server: Server;
  private waiters: (() => void)[] = [];

  constructor() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const url = new URL(req.url!, 'http://x');
      if (url.searchParams.get('watch') === 'true') {
        if (this.watchStatus !== 200) {
          res.writeHead(this.watchStatus).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        this.watches.push({ query: url.searchParams, res });
      } else {
        this.lists.push(url.searchParams);
        const limit = Number(url.searchParams.get('limit'));
        const from = Number(url.searchParams.get('continue') ?? 0);
        const to = Math.min(this.objects.length, from + limit);
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            items: this.objects.slice(from, to),
            metadata: {
              resourceVersion: this.listVersion,
              ...(to < this.objects.length ? { continue: String(to) } : {}),
            },
          }),
        );
      }
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async listen(): Promise<KubeConfig> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [
        { name: 'c', server: `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`, skipTLSVerify: true },
      ],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    return kc;
  }

  send(type: string, object: unknown): void {
    this.watches.at(-1)!.res.write(`${JSON.stringify({ type, object })}\n`);
  }

  async until(test: () => boolean): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!test()) {
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  close(): Promise<void> {
    for (const w of this.watches) w.res.destroy();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

let api: FakeApi | undefined;
let informer: ResilientInformer<Obj> | undefined;
afterEach(async () => {
  await informer?.stop();
  await api?.close();
});

async function started(objects: Obj[], opts: { pageSize?: number; labelSelector?: string } = {}) {
  api = new FakeApi();
  api.objects = objects;
  const kc = await api.listen();
  informer = new ResilientInformer<Obj>({
    kubeConfig: kc,
    path: '/apis/x/v1/things',
    log: createLogger('test', 'silent'),
    ...opts,
  });
  const events: string[] = [];
  informer.onChange((o, kind) => events.push(`${kind} ${o.metadata.name}@${o.metadata.resourceVersion}`));
  await informer.start();
  return { api, informer, events };
}

describe('ResilientInformer', () => {
  it("lists in pages with the selector, caches without managedFields, then watches from the list's version with bookmarks", async () => {
    const { api, informer, events } = await started([obj('a', '1'), obj('b', '2'), obj('c', '3')], {
      pageSize: 2,
      labelSelector: 'app=x',
    });
    expect(api.lists.map((q) => [q.get('limit'), q.get('continue'), q.get('labelSelector')])).toEqual([
      ['2', null, 'app=x'],
      ['2', '2', 'app=x'],
    ]);
    expect(informer.hasSynced).toBe(true);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
    expect(informer.get('a', 'ns')).toEqual({
      metadata: { namespace: 'ns', name: 'a', resourceVersion: '1' },
      spec: { name: 'a' },
    });
    expect(events).toEqual(['add a@1', 'add b@2', 'add c@3']);
    await api.until(() => api.watches.length === 1);
    const q = api.watches[0]!.query;
    expect([q.get('resourceVersion'), q.get('allowWatchBookmarks'), q.get('labelSelector')]).toEqual([
      '10',
      'true',
      'app=x',
    ]);
  });

  it('applies watch events, and resumes from the last version seen (bookmarks included) when the server ends the watch', async () => {
    const { api, informer, events } = await started([obj('a', '1')]);
    await api.until(() => api.watches.length === 1);
    api.send('ADDED', obj('b', '11'));
    api.send('MODIFIED', obj('a', '12'));
    api.send('MODIFIED', obj('a', '12'));
    api.send('DELETED', obj('b', '13'));
    api.send('BOOKMARK', { metadata: { resourceVersion: '20' } });
    await api.until(() => events.length === 4);
    expect(events.slice(1)).toEqual(['add b@11', 'update a@12', 'delete b@13']);
    expect(informer.get('a', 'ns')?.metadata.managedFields).toBeUndefined();
    await new Promise((r) => setTimeout(r, 50));
    api.watches[0]!.res.end();
    await api.until(() => api.watches.length === 2);
    expect(api.watches[1]!.query.get('resourceVersion')).toBe('20');
    expect(api.lists).toHaveLength(1);
  });

  it('relists at once on 410 Gone, reporting what went away while it was not watching', async () => {
    const { api, informer, events } = await started([obj('a', '1'), obj('b', '2')]);
    await api.until(() => api.watches.length === 1);
    api.objects = [obj('a', '1'), obj('c', '30')];
    api.listVersion = '31';
    api.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' });
    api.watches[0]!.res.end();
    await api.until(() => api.watches.length === 2);
    expect(api.lists).toHaveLength(2);
    expect(events.slice(2)).toEqual(['delete b@2', 'add c@30']);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['a', 'c']);
    expect(api.watches[1]!.query.get('resourceVersion')).toBe('31');
  });

  it('after a failed watch, backs off and lists afresh', async () => {
    const { api } = await started([obj('a', '1')]);
    await api.until(() => api.watches.length === 1);
    api.watchStatus = 500;
    api.watches[0]!.res.destroy();
    await api.until(() => api.lists.length >= 2);
    api.watchStatus = 200;
    await api.until(() => api.watches.length === 2);
    expect(api.watches[1]!.query.get('resourceVersion')).toBe('10');
  });
});
