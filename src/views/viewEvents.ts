import type { SqlWriter } from '../coordination/fencing.ts';
import type { Prisma } from '../database/database.ts';

/** One view of a product, with the id that makes applying it idempotent. */
export interface ViewEvent {
  /** Random, given when the view was recorded; the dedupe key in the "ViewEvent" table. */
  readonly eventId: string;
  readonly productId: number;
}

/** A product id the database can hold (a positive INTEGER): anything else is refused before it is buffered. */
export function isProductId(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= MAX_INT4;
}

/**
 * Adds views to Product.viewCount exactly once per event id, in one statement (so one transaction):
 * the events are inserted into "ViewEvent", and only those that were not there before count. A batch
 * applied again (redelivered after a crash between this commit and the Redis ack, or applied
 * directly after a Redis timeout that hid a successful write) therefore adds nothing.
 *
 * Views of a product that no longer exists match no row and are dropped; their events are still
 * recorded, so a redelivery drops them again. Every updated product's version increases, so a cache
 * fill that read the row before this write cannot overwrite a newer entry.
 */
export async function applyViewEvents(prisma: SqlWriter, events: readonly ViewEvent[]): Promise<void> {
  if (events.length === 0) return;
  // Sorted, so two flushers with overlapping batches insert the same ids in the same order and wait
  // for each other instead of deadlocking; `locked` does the same for the product rows.
  const sorted = [...events].sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const eventIds = sorted.map((event) => event.eventId);
  const productIds = sorted.map((event) => event.productId);
  await prisma.$executeRaw`
    WITH fresh AS (
      INSERT INTO "ViewEvent" ("eventId", "productId")
      SELECT * FROM unnest(${eventIds}::text[], ${productIds}::int[])
      ON CONFLICT DO NOTHING
      RETURNING "productId"
    ), counts AS (
      SELECT "productId", count(*)::int AS n FROM fresh GROUP BY 1
    ), locked AS MATERIALIZED (
      SELECT p.id FROM "Product" p JOIN counts ON counts."productId" = p.id ORDER BY p.id FOR UPDATE OF p
    )
    UPDATE "Product" p
    SET "viewCount" = p."viewCount" + counts.n, "version" = p."version" + 1
    FROM counts JOIN locked ON locked.id = counts."productId"
    WHERE p.id = counts."productId"`;
}

/**
 * Deletes dedupe rows older than `retentionMs`, in bounded chunks, and returns how many went. A row
 * must outlive every way its event can still arrive (see `dedupeRetentionMs` in viewFlusher.ts).
 */
export async function sweepViewEvents(prisma: Prisma, retentionMs: number): Promise<number> {
  let deleted = 0;
  for (;;) {
    const n = await prisma.$executeRaw`
      DELETE FROM "ViewEvent" WHERE "eventId" IN (
        SELECT "eventId" FROM "ViewEvent"
        WHERE "appliedAt" < now() - make_interval(secs => ${retentionMs / 1000}::float8)
        LIMIT ${SWEEP_CHUNK}
      )`;
    deleted += n;
    if (n < SWEEP_CHUNK) return deleted;
  }
}

// Private:

const MAX_INT4 = 2_147_483_647;

// Small enough that one DELETE never holds its locks for long.
const SWEEP_CHUNK = 10_000;
