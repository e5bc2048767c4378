import type { KubernetesObject } from '@kubernetes/client-node';

export type ChangeKind = 'add' | 'update' | 'delete';

export interface Change<T> {
  obj: T;
  kind: ChangeKind;
}

/**
 * An informer's cache: objects by namespace, then name (cluster-scoped ones under ''). It knows
 * nothing of the API: it applies watch events and whole lists and says what changed, with the
 * same rules as client-node's ListWatch, so handlers see the same events as before: an object
 * whose resourceVersion did not change is no update; a relist reports the objects it no longer
 * holds as deleted first, then the new and changed ones.
 */
export class ObjectStore<T extends KubernetesObject> {
  private objects = new Map<string, Map<string, T>>();

  get(name: string, namespace?: string): T | undefined {
    return this.objects.get(namespace || '')?.get(name);
  }

  list(namespace?: string): T[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    const all: T[] = [];
    for (const byName of this.objects.values()) all.push(...byName.values());
    return all;
  }

  get size(): number {
    let n = 0;
    for (const byName of this.objects.values()) n += byName.size;
    return n;
  }

  /** An ADDED or MODIFIED event; undefined when the cache already held this version. */
  upsert(obj: T): Change<T> | undefined {
    const namespace = obj.metadata?.namespace || '';
    let byName = this.objects.get(namespace);
    if (!byName) {
      byName = new Map();
      this.objects.set(namespace, byName);
    }
    const name = obj.metadata?.name || '';
    const found = byName.get(name);
    if (found && sameVersion(found, obj)) return undefined;
    byName.set(name, obj);
    return { obj, kind: found ? 'update' : 'add' };
  }

  /** A DELETED event; undefined when the cache did not hold the object. */
  delete(obj: T): Change<T> | undefined {
    const namespace = obj.metadata?.namespace || '';
    const byName = this.objects.get(namespace);
    if (!byName?.delete(obj.metadata?.name || '')) return undefined;
    if (byName.size === 0) this.objects.delete(namespace);
    return { obj, kind: 'delete' };
  }

  /** A complete list: the cache becomes exactly it. */
  replace(items: readonly T[]): Change<T>[] {
    const listed = new Map<string, Set<string>>();
    for (const obj of items) {
      const namespace = obj.metadata?.namespace || '';
      let names = listed.get(namespace);
      if (!names) listed.set(namespace, (names = new Set()));
      names.add(obj.metadata?.name || '');
    }
    const changes: Change<T>[] = [];
    for (const [namespace, byName] of this.objects) {
      const names = listed.get(namespace);
      for (const [name, obj] of byName) {
        if (names?.has(name)) continue;
        byName.delete(name);
        changes.push({ obj, kind: 'delete' });
      }
      if (byName.size === 0) this.objects.delete(namespace);
    }
    for (const obj of items) {
      const change = this.upsert(obj);
      if (change) changes.push(change);
    }
    return changes;
  }
}

function sameVersion(a: KubernetesObject, b: KubernetesObject): boolean {
  const version = a.metadata?.resourceVersion;
  return version !== undefined && version !== null && version === b.metadata?.resourceVersion;
}
