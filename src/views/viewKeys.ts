/**
 * Where buffered views live in Redis. Both keys carry the hash tag `{views}`, so on a Redis Cluster
 * they share one slot and a script may touch both; the prefix never contains braces (config.ts
 * refuses them), so the tag is always this one.
 */
export interface ViewKeys {
  /** Stream of view events, one entry `{p: productId, e: eventId}` per view, until a flusher acks it. */
  readonly stream: string;
  /** Hash productId -> views recorded but not yet acked: the delta reads add to Product.viewCount. */
  readonly pending: string;
}

/** The consumer group every flusher reads the stream in; each entry goes to one flusher at a time. */
export const VIEW_FLUSHERS_GROUP = 'flushers';

export function viewKeys(prefix: string): ViewKeys {
  if (/[{}]/.test(prefix)) throw new TypeError(`prefix must not contain braces: ${JSON.stringify(prefix)}`);
  return { stream: `${prefix}views:{views}:stream`, pending: `${prefix}views:{views}:pending` };
}
