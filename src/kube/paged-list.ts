/** One page of a list response, as the API server sends it. */
export interface ListPage<T> {
  items?: T[] | null;
  metadata?: { resourceVersion?: string; continue?: string };
}

export interface PagedListResult<T> {
  items: T[];
  /** The list's resourceVersion: where a watch continues from. */
  resourceVersion: string;
}

/** The API server's answer to an expired continue token (410 Gone, reason Expired). */
export function isGone(err: unknown): boolean {
  return (err as { statusCode?: number })?.statusCode === 410;
}

export const DEFAULT_PAGE_SIZE = 500;
/** Relists after an expired continue token, before the caller's own backoff takes over. */
const MAX_EXPIRED_RESTARTS = 3;

/**
 * Lists in pages of `limit` (with `continue`), passing every item through `transform` before
 * the next page is fetched, so the process never holds more than one page of whole objects: a
 * single 10,000-item response parsed in one piece is hundreds of MiB at its peak. The pages
 * form one consistent snapshot, at the first page's resourceVersion.
 *
 * A continue token expires (410 Gone) when listing takes longer than etcd keeps the snapshot's
 * revision (5 minutes by default). As client-go's reflector does, the list then starts again
 * from scratch; what was collected is dropped, since pages of two snapshots do not make one.
 */
export async function listInPages<T, U>(
  fetchPage: (query: { limit: number; continue?: string }) => Promise<ListPage<T>>,
  transform: (item: T) => U,
  limit = DEFAULT_PAGE_SIZE,
): Promise<PagedListResult<U>> {
  for (let restarts = 0; ; restarts++) {
    const items: U[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    try {
      do {
        const page = await fetchPage(token ? { limit, continue: token } : { limit });
        for (const item of page.items ?? []) items.push(transform(item));
        resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
        token = page.metadata?.continue || undefined;
      } while (token);
      return { items, resourceVersion };
    } catch (err) {
      // Only an expired token is worth an immediate new list; a 410 on the first page is not that.
      if (!token || !isGone(err) || restarts >= MAX_EXPIRED_RESTARTS) throw err;
    }
  }
}
