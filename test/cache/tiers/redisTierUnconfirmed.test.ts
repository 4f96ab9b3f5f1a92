import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { category, categoryKind } from '../../support/testKinds.ts';
import { read, store, write } from './tierContract.ts';

/**
 * A write whose shared invalidation failed leaves its tags unconfirmed, and an entry carrying one is
 * a miss until the retry lands. Whether a tag is unconfirmed must be read when the lookup is sent:
 * the retry's reply can arrive in the same socket read as the lookup's and clear the tag before the
 * lookup's reply is decoded. The lookup then holds generations from before the retry, and, judged
 * by the state after it, served the entry from before the write (the writer read its old value once,
 * about a second after Redis came back, in failedInvalidationRecovery.test.ts on a loaded machine).
 */
const prefix = uniquePrefix();
const logger = pino({ level: 'silent' });
const clients = new RedisClients();
const redis = await clients.connect();

afterAll(async () => {
  await deletePrefix(prefix);
  clients.disconnectAll();
});

describe('RedisTier and unconfirmed invalidations', () => {
  it('judges a lookup by the tags unconfirmed when it was sent, not when its reply is read', async () => {
    const keys = new CacheKeys(`${prefix}${randomUUID().slice(0, 8)}:`);
    const unsent = new Set<string>();
    const tier = new RedisTier({
      redis,
      guard: new TierGuard({ tier: 'L3', logger }),
      keys,
      tagLifetimeMs: () => 60_000,
      logger,
      // As Invalidator.unconfirmedNow: the tags as they stand when asked.
      unconfirmed: () => {
        const now = new Set(unsent);
        return now.size === 0 ? undefined : (tags) => tags.some((tag) => now.has(tag));
      },
    });
    const tag = `Category:${randomUUID()}`;
    const w = write(`${keys.keyspace}before-the-write`, category(1), { tags: [tag] });
    await store(tier, [w]);

    // The write's invalidation did not reach Redis: its tag is unconfirmed.
    unsent.add(tag);
    const lookup = tier.getMany([read(w)], categoryKind);
    // The retry is confirmed while the lookup's reply is on its way.
    unsent.delete(tag);

    expect((await lookup).entries).toEqual([undefined]);
  });
});
