/**
 * What a reconciler reads from a cache: one object by name. Reconcilers depend on this rather
 * than on the informer, so they cannot start, stop or list a cache they do not own, and a test or
 * a view over several caches (one per watched namespace) serves them as well.
 */
export interface Lister<T> {
  get(name: string, namespace?: string): T | undefined;
}
