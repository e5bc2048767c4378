import { describe, expect, it } from 'vitest';
import { type Change, ObjectStore } from '../../src/kube/object-store.js';

type Obj = { metadata: { namespace?: string; name: string; resourceVersion: string } };
const obj = (namespace: string | undefined, name: string, resourceVersion: string): Obj => ({
  metadata: { ...(namespace ? { namespace } : {}), name, resourceVersion },
});
const kinds = (changes: Change<Obj>[]) => changes.map((c) => `${c.kind} ${c.obj.metadata.name}`);

describe('ObjectStore', () => {
  it('reports an add, then an update only for a new resourceVersion', () => {
    const store = new ObjectStore<Obj>();
    expect(store.upsert(obj('a', 'x', '1'))?.kind).toBe('add');
    expect(store.upsert(obj('a', 'x', '1'))).toBeUndefined();
    expect(store.upsert(obj('a', 'x', '2'))?.kind).toBe('update');
    expect(store.get('x', 'a')?.metadata.resourceVersion).toBe('2');
  });

  it('gets and lists by namespace, cluster-scoped objects under none', () => {
    const store = new ObjectStore<Obj>();
    store.upsert(obj('a', 'x', '1'));
    store.upsert(obj('b', 'x', '1'));
    store.upsert(obj(undefined, 'policy', '1'));
    expect(store.get('x', 'b')?.metadata.namespace).toBe('b');
    expect(store.get('x')).toBeUndefined();
    expect(store.get('policy')?.metadata.name).toBe('policy');
    expect(store.list('a').map((o) => o.metadata.namespace)).toEqual(['a']);
    expect(store.list()).toHaveLength(3);
    expect(store.list('none')).toEqual([]);
    expect(store.size).toBe(3);
  });

  it('reports a delete only for what it held', () => {
    const store = new ObjectStore<Obj>();
    store.upsert(obj('a', 'x', '1'));
    expect(store.delete(obj('a', 'y', '2'))).toBeUndefined();
    expect(store.delete(obj('a', 'x', '2'))?.kind).toBe('delete');
    expect(store.list()).toEqual([]);
  });

  it('becomes exactly a new list: deletes first, then adds and changes, nothing for the unchanged', () => {
    const store = new ObjectStore<Obj>();
    for (const o of [obj('a', 'kept', '1'), obj('a', 'changed', '1'), obj('a', 'gone', '1'), obj('b', 'gone-too', '1')])
      store.upsert(o);
    const changes = store.replace([obj('a', 'kept', '1'), obj('a', 'changed', '2'), obj('c', 'new', '3')]);
    expect(kinds(changes)).toEqual(['delete gone', 'delete gone-too', 'update changed', 'add new']);
    expect(
      store
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['changed', 'kept', 'new']);
    expect(store.list('b')).toEqual([]);
  });
});
