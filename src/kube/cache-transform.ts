import type { KubernetesObject } from '@kubernetes/client-node';

/**
 * Applied to every object before an informer caches it or hands it to a handler (client-go's
 * SetTransform). Caches then hold only what the operator reads: at ten thousand objects, what
 * nobody reads is most of the process's memory.
 */
export type CacheTransform<T> = (obj: T) => T;

/**
 * Drops metadata.managedFields: server-side-apply bookkeeping, often the largest part of an
 * object's metadata, and never read by the operator (it patches and creates; it never sends a
 * cached object back whole, so nothing can erase the server's copy of them).
 */
export function withoutManagedFields<T extends KubernetesObject>(obj: T): T {
  if (!obj.metadata?.managedFields) return obj;
  const { managedFields: _dropped, ...metadata } = obj.metadata;
  return { ...obj, metadata };
}
