import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database, Prisma } from '../../src/database/database.ts';
import { LockLostError, StaleFencingTokenError } from '../../src/errors.ts';
import { ViewCounter } from '../../src/views/viewCounter.ts';
import { ViewFlusher } from '../../src/views/viewFlusher.ts';
import { FaultProxy } from '../support/faultProxy.ts';
import { redisUrl } from '../support/services.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';
import { capturingLogger, createProducts, openRunDatabase, sharedRedis, viewCountsOf } from './viewFixtures.ts';

/**
 * A flusher that pauses (GC, a frozen VM, SIGSTOP) after reading its batch and before committing it
 * loses that batch to another flusher, which applies it. The dedupe rows make the paused flusher's
 * late commit add nothing, but only while they are kept (`dedupeRetentionMs`, an hour): a pause
 * longer than that, with a sweep in between, applied the same views twice. The flush lock's fencing
 * token refuses the late commit however long the pause was.
 */
describe('a flusher paused past its lock, its batch taken over', () => {
  let db: Database;
  let redis: Redis;
  let proxy: FaultProxy;
  const prefix = uniquePrefix();

  beforeAll(async () => {
    db = await openRunDatabase();
    redis = sharedRedis();
    proxy = await FaultProxy.start({ targetPort: Number(new URL(redisUrl).port || 6379) });
  });
  afterAll(async () => {
    await proxy.close();
    redis.disconnect();
    await deletePrefix(prefix);
    await db.close();
  });

  it('does not apply the batch a second time when it wakes', async () => {
    const { logger } = capturingLogger();
    const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
    const [a] = (await createProducts(db.prisma, 1)) as [number];
    for (let i = 0; i < 3; i++) expect(await counter.record(a)).toBe('buffered');

    // The paused flusher reaches Redis through a proxy that can go silent (its side of a pause) and
    // the database through a gate that holds its first write (its batch read, not yet committed).
    const pausedRedis = new Redis(proxy.url, { maxRetriesPerRequest: 0, enableOfflineQueue: false, commandTimeout: 5000 });
    pausedRedis.on('error', () => {});
    await new Promise((resolve) => pausedRedis.once('ready', resolve));
    const gate = gatedWrites(db.prisma);
    const paused = new ViewFlusher({ redis: pausedRedis, prisma: gate.prisma, prefix, consumer: 'paused', logger, claimIdleMs: 200 });
    const pausedFlush = paused.flushOnce().then(
      (handled) => ({ handled }),
      (error: unknown) => ({ error }),
    );
    await gate.reached;
    proxy.set({ kind: 'hang' });

    // Its lock expires while it is paused; another flusher takes the batch over and applies it.
    await expect.poll(() => redis.exists(`${prefix}lock:{views-flush}`), { timeout: 10_000 }).toBe(0);
    const taker = new ViewFlusher({ redis, prisma: db.prisma, prefix, consumer: 'taker', logger, claimIdleMs: 0 });
    await expect.poll(() => taker.flushOnce(), { timeout: 10_000 }).toBe(3);
    expect(await viewCountsOf(db.prisma, [a])).toEqual([3]);

    // The pause outlasts the dedupe rows: the sweep deletes them (here only this test's, so the files
    // running alongside keep theirs).
    await db.prisma.viewEvent.deleteMany({ where: { productId: a } });

    // It wakes and carries on from where it stopped.
    proxy.set({ kind: 'pass' });
    gate.open();
    const woke = await pausedFlush;
    pausedRedis.disconnect();

    expect(await viewCountsOf(db.prisma, [a])).toEqual([3]);
    // Refused by the fence, and told that its lock was lost.
    expect(woke).toEqual({ error: expect.any(LockLostError) });
    expect((woke as { error: LockLostError }).error.cause).toBeInstanceOf(StaleFencingTokenError);
  });
});

/**
 * Each CACHE_PREFIX has its own flush lock, and so its own token sequence (floored at Redis's
 * clock): the fencing row must be its own too. With one row for every prefix, a flusher of another
 * prefix that committed in between (a later, higher token) made a commit under a lock still held
 * fail as stale.
 */
describe('flushers of two prefixes on one database', () => {
  let db: Database;
  let redis: Redis;
  const [first, second] = [uniquePrefix(), uniquePrefix()];

  beforeAll(async () => {
    db = await openRunDatabase();
    redis = sharedRedis();
  });
  afterAll(async () => {
    redis.disconnect();
    await Promise.all([deletePrefix(first), deletePrefix(second)]);
    await db.close();
  });

  it('each commits under its own lock, whatever the other committed in between', async () => {
    const { logger } = capturingLogger();
    const [a, b] = (await createProducts(db.prisma, 2)) as [number, number];
    for (const [prefix, product] of [
      [first, a],
      [second, b],
    ] as const) {
      const counter = new ViewCounter({ redis, prefix, prisma: db.prisma, logger });
      for (let i = 0; i < 3; i++) expect(await counter.record(product)).toBe('buffered');
    }

    // The first flusher holds its lock (its token taken first) and has read its batch, not committed it.
    const gate = gatedWrites(db.prisma);
    const held = new ViewFlusher({ redis, prisma: gate.prisma, prefix: first, consumer: 'held', logger }).flushOnce();
    await gate.reached;
    // The other prefix's flusher takes a later token and commits.
    expect(await new ViewFlusher({ redis, prisma: db.prisma, prefix: second, consumer: 'other', logger }).flushOnce()).toBe(3);
    gate.open();

    expect(await held).toBe(3);
    expect(await viewCountsOf(db.prisma, [a, b])).toEqual([3, 3]);
  });
});

/** `prisma`, whose first write (a raw statement or a transaction) waits until `open()`; `reached` resolves when it is held. */
function gatedWrites(prisma: Prisma): { prisma: Prisma; reached: Promise<void>; open: () => void } {
  let open!: () => void;
  let reachedGate!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (reachedGate = resolve));
  let held = false;
  const gated = new Proxy(prisma, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if ((property !== '$executeRaw' && property !== '$transaction') || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        if (!held) {
          held = true;
          reachedGate();
          await opened;
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { prisma: gated, reached, open };
}
