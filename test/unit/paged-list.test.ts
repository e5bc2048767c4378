import { describe, expect, it } from 'vitest';
import { type ListPage, listInPages } from '../../src/kube/paged-list.js';

type Item = { n: number; big?: string };
const gone = () => Object.assign(new Error('continue token expired'), { statusCode: 410 });

/** A server over `total` items, `limit` a page, whose continue tokens can be made to expire. */
function server(total: number, opts: { expireOnce?: number[] } = {}) {
  // Every list is one snapshot: its pages share the first page's resourceVersion.
  let snapshot = 100;
  const calls: { limit: number; continue?: string }[] = [];
  const expire = new Set(opts.expireOnce ?? []);
  const fetchPage = async (q: { limit: number; continue?: string }): Promise<ListPage<Item>> => {
    calls.push(q);
    const from = q.continue ? Number(q.continue) : 0;
    if (!q.continue) snapshot++;
    if (q.continue && expire.delete(calls.length)) throw gone();
    const to = Math.min(total, from + q.limit);
    const items = Array.from({ length: to - from }, (_, i) => ({ n: from + i, big: 'x'.repeat(100) }));
    return { items, metadata: { resourceVersion: String(snapshot), ...(to < total ? { continue: String(to) } : {}) } };
  };
  return { fetchPage, calls };
}

describe('listInPages', () => {
  it('assembles every page, in order, each item transformed', async () => {
    const s = server(1234);
    const { items, resourceVersion } = await listInPages(s.fetchPage, (i) => i.n, 500);
    expect(items).toEqual(Array.from({ length: 1234 }, (_, i) => i));
    expect(resourceVersion).toBe('101');
    expect(s.calls).toEqual([{ limit: 500 }, { limit: 500, continue: '500' }, { limit: 500, continue: '1000' }]);
  });

  it('transforms a page before it fetches the next', async () => {
    const order: string[] = [];
    const s = server(4);
    await listInPages(
      async (q) => {
        order.push(`fetch ${q.continue ?? 0}`);
        return s.fetchPage(q);
      },
      (i) => {
        order.push(`item ${i.n}`);
        return i;
      },
      2,
    );
    expect(order).toEqual(['fetch 0', 'item 0', 'item 1', 'fetch 2', 'item 2', 'item 3']);
  });

  it('takes an empty list (no items field) as no items, with its resourceVersion', async () => {
    expect(
      await listInPages(
        async () => ({ metadata: { resourceVersion: '7' } }),
        (i) => i,
      ),
    ).toEqual({ items: [], resourceVersion: '7' });
  });

  it('starts again from the first page when a continue token expired, keeping nothing of the first attempt', async () => {
    const s = server(5, { expireOnce: [3] });
    const { items, resourceVersion } = await listInPages(s.fetchPage, (i) => i.n, 2);
    expect(items).toEqual([0, 1, 2, 3, 4]);
    expect(s.calls.map((c) => c.continue ?? 'first')).toEqual(['first', '2', '4', 'first', '2', '4']);
    expect(resourceVersion).toBe('102');
  });

  it('gives up after a few expired lists in a row, for the caller to back off', async () => {
    const s = server(5, { expireOnce: [2, 4, 6, 8, 10] });
    await expect(listInPages(s.fetchPage, (i) => i, 2)).rejects.toMatchObject({ statusCode: 410 });
    expect(s.calls.filter((c) => !c.continue)).toHaveLength(4);
  });

  it('passes other failures, and a 410 on the first page, to the caller', async () => {
    await expect(
      listInPages(
        async () => {
          throw gone();
        },
        (i) => i,
      ),
    ).rejects.toMatchObject({ statusCode: 410 });
    let n = 0;
    const failing = async (): Promise<ListPage<number>> => {
      if (n++ === 0) return { items: [1], metadata: { continue: 'c' } };
      throw Object.assign(new Error('etcd unavailable'), { statusCode: 500 });
    };
    await expect(listInPages(failing, (i) => i)).rejects.toThrow('etcd unavailable');
    expect(n).toBe(2);
  });
});
