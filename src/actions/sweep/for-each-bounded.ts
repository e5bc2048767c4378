/**
 * Calls fn on every item with at most `limit` calls in flight: a sweep of ten thousand objects
 * must neither send them one at a time nor all at once. After the first failure no further item
 * is started; the calls in flight are let finish and the first error is thrown, so a broken API
 * server or bucket fails the run quickly instead of failing every item in turn.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
}
