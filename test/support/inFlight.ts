/**
 * Runs `each` over `items` with at most `width` calls in flight, results in the items' order: a
 * load test's client, bounded so that it measures the server rather than the queueing of its own
 * sockets.
 */
export async function inFlight<T, R>(items: readonly T[], width: number, each: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await each(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}
