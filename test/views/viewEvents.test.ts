import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.ts';
import { applyViewEvents, sweepViewEvents, type ViewEvent } from '../../src/views/viewEvents.ts';
import { createProducts, openRunDatabase, rowsOf, viewCountsOf } from './viewFixtures.ts';

/** The database half of exactly-once: applying the same event ids again adds nothing. */
describe('applyViewEvents', () => {
  let db: Database;
  beforeAll(async () => {
    db = await openRunDatabase();
  });
  afterAll(() => db.close());

  const eventsFor = (productIds: number[]): ViewEvent[] => productIds.map((productId) => ({ eventId: randomUUID(), productId }));

  it('adds each product’s views and bumps its version once per statement', async () => {
    const [a, b] = (await createProducts(db.prisma, 2)) as [number, number];
    await applyViewEvents(db.prisma, eventsFor([a, b, a, a]));
    expect(await rowsOf(db.prisma, [a, b])).toEqual([
      { viewCount: 3, version: 2 },
      { viewCount: 1, version: 2 },
    ]);
  });

  it('applies an event id once, however often it is applied, alone or within a larger batch', async () => {
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    const batch = eventsFor([a, a, a]);
    await applyViewEvents(db.prisma, batch);
    await applyViewEvents(db.prisma, batch);
    await applyViewEvents(db.prisma, [...batch.slice(1), ...eventsFor([a])]);
    expect(await viewCountsOf(db.prisma, [a])).toEqual([4]);
  });

  it('applies concurrently delivered copies of one batch once', async () => {
    const ids = await createProducts(db.prisma, 3);
    const batch = eventsFor([...ids, ...ids].reverse());
    await Promise.all([applyViewEvents(db.prisma, batch), applyViewEvents(db.prisma, [...batch].reverse())]);
    expect(await viewCountsOf(db.prisma, ids)).toEqual([2, 2, 2]);
  });

  it('drops the views of a product that no longer exists, and still counts the others', async () => {
    const [gone, kept] = (await createProducts(db.prisma, 2)) as [number, number];
    await db.prisma.product.delete({ where: { id: gone } });
    await expect(applyViewEvents(db.prisma, eventsFor([gone, kept]))).resolves.toBeUndefined();
    expect(await viewCountsOf(db.prisma, [kept])).toEqual([1]);
  });

  it('sweeps only the dedupe rows older than the retention', async () => {
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    const [old, fresh] = eventsFor([a, a]) as [ViewEvent, ViewEvent];
    await applyViewEvents(db.prisma, [old, fresh]);
    await db.prisma.$executeRaw`UPDATE "ViewEvent" SET "appliedAt" = now() - interval '2 hours' WHERE "eventId" = ${old.eventId}`;

    expect(await sweepViewEvents(db.prisma, 3_600_000)).toBeGreaterThanOrEqual(1);
    const left = await db.prisma.viewEvent.findMany({ where: { eventId: { in: [old.eventId, fresh.eventId] } }, select: { eventId: true } });
    expect(left).toEqual([{ eventId: fresh.eventId }]);
  });
});
