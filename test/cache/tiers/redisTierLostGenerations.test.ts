import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import type { TierFence } from '../../../src/cache/tiers/tier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { category, categoryKind } from '../../support/testKinds.ts';
import { entries, read, store, write } from './tierContract.ts';

/**
 * A tag's generation key can go while entries stamped with it live on: Redis evicts it (allkeys-lru
 * picks a cold tag key before the hot entries that carry it), or a failover or restore loses the
 * last SET. A missing generation must then never match a stamp, or an invalidated entry comes back.
 */
const prefix = uniquePrefix();
const logger = pino({ level: 'silent' });
const TAG_LIFETIME_MS = 10 * 60_000;
const clients = new RedisClients();
const redis = await clients.connect();

afterAll(async () => {
  await deletePrefix(prefix);
  clients.disconnectAll();
});

interface Setup {
  tier: RedisTier;
  keys: CacheKeys;
  /** A key of this test's own keyspace. */
  key: (k: string) => string;
  /** A tag of this test only: its generation key lives in this test's keyspace. */
  tag: string;
}

/** A tier over a keyspace of its own, so that each test's tag keys are its own. */
function setup(options: { client?: Redis; guard?: Pick<TierGuard, 'run'> } = {}): Setup {
  const keys = new CacheKeys(`${prefix}${randomUUID().slice(0, 8)}:`);
  const guard = options.guard ?? new TierGuard({ tier: 'L3', logger });
  const tier = new RedisTier({ redis: options.client ?? redis, guard, keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger });
  return { tier, keys, key: (k) => keys.keyspace + k, tag: `Category:${randomUUID()}` };
}

/** What getCarryingTags serves for `keys`, the entries' tags read from their values. */
async function carrying(tier: RedisTier, keys: readonly string[], tags: readonly string[]) {
  return (await tier.getCarryingTags(keys, categoryKind, () => tags)).entries;
}

/** The client, except that each SET ... NX (a generation's creation) goes through `onCreate`. */
function interceptingCreations(onCreate: (client: Redis, args: unknown[]) => Promise<unknown>): Redis {
  return new Proxy(redis, {
    get(target, property) {
      if (property === 'set') {
        return (...args: unknown[]) => (args.includes('NX') ? onCreate(target, args) : (target.set as (...a: unknown[]) => unknown)(...args));
      }
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Counts the generations a tier creates over the shared client. */
function countingCreations(): { client: Redis; created: () => number } {
  let created = 0;
  const client = interceptingCreations((target, args) => {
    created++;
    return (target.set as (...a: unknown[]) => Promise<unknown>)(...args);
  });
  return { client, created: () => created };
}

/** Degrades (returns the fallback) on a failure, but never skips the next call. */
const forgiving = {
  run: async <T>(fallback: T, call: () => Promise<T>) => {
    try {
      return await call();
    } catch {
      return fallback;
    }
  },
};

describe('RedisTier when a tag’s generation key is lost', () => {
  it('never serves again an entry stamped before an invalidation whose generation key is then lost', async () => {
    const { tier, keys, key, tag } = setup();
    // Filled while the tag has never been invalidated: the tag has no generation yet.
    const old = write(key('a'), category(1, 'old'), { tags: [tag] });
    await store(tier, [old]);
    expect(await entries(tier, [read(old)])).toEqual([old.entry]);
    await tier.invalidateTags([tag]);
    expect(await entries(tier, [read(old)])).toEqual([undefined]);
    // Evicted by allkeys-lru, or lost with the last SET in a failover.
    await redis.del(keys.tag(tag));
    expect(await entries(tier, [read(old)])).toEqual([undefined]);
    expect(await carrying(tier, [old.key], [tag])).toEqual([undefined]);
  });

  it('reads live entries as misses once their tags’ generation keys are deleted, and the next fill hits', async () => {
    const { tier, keys, key, tag } = setup();
    const writes = [1, 2].map((id) => write(key(`e${id}`), category(id), { tags: [`${tag}:${id}`, tag] }));
    await store(tier, writes);
    expect(await entries(tier, writes.map(read))).toEqual(writes.map((w) => w.entry));
    await redis.del(keys.tag(tag));
    const { entries: lost, fence } = await tier.getMany(writes.map(read), categoryKind);
    expect(lost).toEqual([undefined, undefined]);
    // The fill that follows the misses, under the fence of the read that missed.
    await tier.setMany(writes, fence);
    expect(await entries(tier, writes.map(read))).toEqual(writes.map((w) => w.entry));
  });

  it('getCarryingTags reads an entry whose tag has no generation as a miss', async () => {
    const { tier, keys, key, tag } = setup();
    const w = write(key('response'), category(1), { tags: [tag] });
    await store(tier, [w]);
    expect(await carrying(tier, [w.key], [tag])).toEqual([w.entry]);
    await redis.del(keys.tag(tag));
    expect(await carrying(tier, [w.key], [tag])).toEqual([undefined]);
    // The miss gave the tag a new generation: a response stored from here on is served.
    await store(tier, [w]);
    expect(await carrying(tier, [w.key], [tag])).toEqual([w.entry]);
  });
});

describe('RedisTier creating a missing generation', () => {
  it.each([
    ['getMany', (s: Setup) => s.tier.getMany([{ key: s.key('k'), tags: [s.tag] }], categoryKind)],
    ['fence', (s: Setup) => s.tier.fence([s.tag])],
    [
      'getCarryingTags',
      async (s: Setup) => {
        // Its tags are read from its value: an entry must be there, whose tag's generation is then lost.
        await store(s.tier, [write(s.key('k'), category(1), { tags: [s.tag] })]);
        await redis.del(s.keys.tag(s.tag));
        return s.tier.getCarryingTags([s.key('k')], categoryKind, () => [s.tag]);
      },
    ],
  ])('%s gives a tag without one a created generation (~), kept tagLifetimeMs, before it returns', async (_, fenceOf) => {
    const s = setup();
    await fenceOf(s);
    const generation = await redis.get(s.keys.tag(s.tag));
    expect(generation).toMatch(/^~[\w-]{12}$/);
    const ttl = await redis.pttl(s.keys.tag(s.tag));
    expect(ttl).toBeGreaterThan(TAG_LIFETIME_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(TAG_LIFETIME_MS);
  });

  it('invalidations set plain generations, never marked as created', async () => {
    const { tier, tag } = setup();
    const generations = await tier.invalidateTagsWithGenerations([tag, `${tag}:1`]);
    expect(generations).toHaveLength(2);
    for (const generation of generations ?? []) expect(generation).toMatch(/^[\w-]{12}$/);
  });

  it('keeps the generation another instance set between the read and the creation', async () => {
    const s = setup();
    let theirs = '';
    // Another instance's invalidation (or creation) lands after this read's MGET, before its SET NX.
    const client = interceptingCreations(async (target, args) => {
      theirs = (await new RedisTier({ redis: target, guard: forgiving, keys: s.keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger }).invalidateTagsWithGenerations([s.tag]))?.[0] ?? '';
      return (target.set as (...a: unknown[]) => Promise<unknown>)(...args);
    });
    const tier = new RedisTier({ redis: client, guard: forgiving, keys: s.keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger });
    const w = write(s.key('raced'), category(1), { tags: [s.tag] });
    const { fence } = await tier.getMany([read(w)], categoryKind);
    expect(await redis.get(s.keys.tag(s.tag))).toBe(theirs);
    // Stamped with their generation, which is the current one: served.
    await tier.setMany([w], fence);
    expect(await entries(s.tier, [read(w)])).toEqual([w.entry]);
  });

  it('creates nothing when every generation exists (no extra round trip)', async () => {
    const s = setup();
    await s.tier.invalidateTags([s.tag]);
    const { client, created } = countingCreations();
    const tier = new RedisTier({ redis: client, guard: forgiving, keys: s.keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger });
    const w = write(s.key('k'), category(1), { tags: [s.tag] });
    await tier.setMany([w], (await tier.getMany([read(w)], categoryKind)).fence);
    await tier.fence([s.tag]);
    await tier.getCarryingTags([w.key], categoryKind, () => [s.tag]);
    expect(created()).toBe(0);
    // One SET NX per missing tag, none for the present one.
    await tier.fence([s.tag, `${s.tag}:1`, `${s.tag}:2`]);
    expect(created()).toBe(2);
  });
});

describe('RedisTier stamps only real generations', () => {
  it('stores nothing carrying a tag whose generation could not be created, and the rest as usual', async () => {
    const s = setup();
    const failing = interceptingCreations(async () => {
      throw new Error('connection lost');
    });
    const tier = new RedisTier({ redis: failing, guard: forgiving, keys: s.keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger });
    const present = `${s.tag}:present`;
    await s.tier.invalidateTags([present]);
    const lost = write(s.key('lost'), category(1), { tags: [s.tag, present] });
    const fine = write(s.key('fine'), category(2), { tags: [present] });
    const { entries: found, fence } = await tier.getMany([read(lost), read(fine)], categoryKind);
    expect(found).toEqual([undefined, undefined]);
    await tier.setMany([lost, fine], fence);
    expect(await redis.exists(lost.key)).toBe(0);
    expect(await entries(s.tier, [read(fine)])).toEqual([fine.entry]);
  });

  it('skips a write whose fence holds no generation for one of its tags, and throws for a tag outside it', async () => {
    const { tier, key, tag } = setup();
    const w = write(key('w'), category(1), { tags: [tag] });
    const blind = { tier: 'L3', generations: new Map([[tag, null]]) } as TierFence;
    await tier.setMany([w], blind);
    expect(await redis.exists(w.key)).toBe(0);
    await expect(tier.setMany([write(key('x'), category(1), { tags: ['Elsewhere'] })], blind)).rejects.toThrow(TypeError);
  });
});

describe('RedisTier keeping a generation as long as the entries stamped with it', () => {
  it('a fill pushes its tags’ generation expiry to tagLifetimeMs, never shortens it, and once while that covers its fills', async () => {
    let clock = Date.now();
    const { keys, key, tag } = setup();
    const tier = new RedisTier({ redis, guard: forgiving, keys, tagLifetimeMs: () => TAG_LIFETIME_MS, logger, now: () => clock });
    // A generation close to its expiry (created long ago), that a fill stamps entries with.
    await redis.set(keys.tag(tag), '~createdLongAgo', 'PX', 2_000);
    const filled = write(key('a'), category(1), { tags: [tag], ttlMs: 60_000 });
    await store(tier, [filled]);
    expect(await redis.pttl(keys.tag(tag))).toBeGreaterThan(TAG_LIFETIME_MS - 5_000);
    expect(await entries(tier, [read(filled)])).toEqual([filled.entry]);

    // This instance pushed it already and that covers the next fill: no PEXPIRE is sent again.
    await redis.pexpire(keys.tag(tag), 2_000);
    await store(tier, [write(key('b'), category(2), { tags: [tag], ttlMs: 60_000 })]);
    expect(await redis.pttl(keys.tag(tag))).toBeLessThanOrEqual(2_000);
    // Until a fill would outlive the expiry it pushed: then it pushes again.
    clock += TAG_LIFETIME_MS - 30_000;
    await store(tier, [write(key('b'), category(2), { tags: [tag], ttlMs: 60_000 })]);
    expect(await redis.pttl(keys.tag(tag))).toBeGreaterThan(TAG_LIFETIME_MS - 5_000);

    // GT: a generation kept longer (by another configuration) is never shortened.
    const other = `${tag}:long`;
    await redis.set(keys.tag(other), '~kept', 'PX', 3 * TAG_LIFETIME_MS);
    await store(tier, [write(key('c'), category(3), { tags: [other] })]);
    expect(await redis.pttl(keys.tag(other))).toBeGreaterThan(2 * TAG_LIFETIME_MS);
  });
});
