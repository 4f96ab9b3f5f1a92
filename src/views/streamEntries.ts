import { isProductId, type ViewEvent } from './viewEvents.ts';

/**
 * The stream entry of one view, as ViewCounter's script writes it: fields `p` (product id) and `e`
 * (event id), read back here a batch at a time.
 */

/** [id, [field, value, ...]]; the fields are null for an entry deleted while pending (Redis 6.2). */
export type StreamEntry = [id: string, fields: string[] | null];

export interface ParsedBatch {
  /** The views to apply; malformed entries have none. */
  events: ViewEvent[];
  /** The distinct products of those views. */
  productIds: number[];
  /** ARGV tail of the ack script: each entry's id and product id ('' for a malformed entry). */
  ackArgs: string[];
}

/**
 * What a batch of entries means. A malformed entry is still acked (and dropped): no retry can make
 * it valid, and left pending it would be claimed forever. Pure.
 */
export function parseEntries(entries: readonly StreamEntry[]): ParsedBatch {
  const events: ViewEvent[] = [];
  const ackArgs: string[] = [];
  for (const [id, fields] of entries) {
    const event = fields === null ? undefined : eventFrom(fields);
    if (event) events.push(event);
    ackArgs.push(id, event ? String(event.productId) : '');
  }
  const productIds = [...new Set(events.map((event) => event.productId))];
  return { events, productIds, ackArgs };
}

// Private:

function eventFrom(fields: readonly string[]): ViewEvent | undefined {
  let productId: number | undefined;
  let eventId: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'p') productId = Number(fields[i + 1]);
    else if (fields[i] === 'e') eventId = fields[i + 1];
  }
  // An id the database cannot hold would fail its batch on every retry: dropped instead.
  if (productId === undefined || !isProductId(productId) || !eventId) return undefined;
  return { eventId, productId };
}
