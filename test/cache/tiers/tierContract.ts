import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/cache/codec.ts';
import type { CacheEntry, CachedKind } from '../../../src/cache/entry.ts';
import type { CacheTier, TierWrite } from '../../../src/cache/tiers/tier.ts';
import { categoryShape, type CategoryRecord } from '../../../src/catalog/records.ts';

export const categoryKind: CachedKind<CategoryRecord> = {
  name: 'Category',
  shapeVersion: 'test',
  ttlSeconds: 60,
  absentTtlSeconds: 5,
  shape: categoryShape,
};

export function write(key: string, value: CategoryRecord | null, ttlMs = 60_000): TierWrite {
  const entry: CacheEntry<CategoryRecord> = { value, expiresAt: Date.now() + ttlMs, computeMs: 1.5 };
  return { key, entry, bytes: encodeEntry(entry), ttlMs };
}

/**
 * The behaviour every shared tier must have. Each tier's test file calls this with a factory that
 * gives a fresh tier and a key namespace of its own.
 */
export function tierContract(name: string, make: () => Promise<{ tier: CacheTier; key: (k: string) => string }>) {
  describe(`${name} satisfies the tier contract`, () => {
    it('reads a missing key as undefined', async () => {
      const { tier, key } = await make();
      expect(await tier.getMany([key('nope')], categoryKind)).toEqual([undefined]);
    });

    it('returns what was stored, value, expiry and compute time', async () => {
      const { tier, key } = await make();
      const w = write(key('a'), { id: 1, name: 'A', slug: 'a' });
      await tier.setMany([w]);
      expect(await tier.getMany([key('a')], categoryKind)).toEqual([w.entry]);
    });

    it('stores absent markers', async () => {
      const { tier, key } = await make();
      const w = write(key('absent'), null);
      await tier.setMany([w]);
      expect(await tier.getMany([key('absent')], categoryKind)).toEqual([w.entry]);
    });

    it('answers a batch in key order, hits and misses mixed', async () => {
      const { tier, key } = await make();
      const writes = [1, 2, 3].map((id) => write(key(`m${id}`), { id, name: `N${id}`, slug: `n${id}` }));
      await tier.setMany(writes);
      const result = await tier.getMany([key('m3'), key('missing'), key('m1'), key('m2')], categoryKind);
      expect(result).toEqual([writes[2]!.entry, undefined, writes[0]!.entry, writes[1]!.entry]);
    });

    it('handles empty batches', async () => {
      const { tier } = await make();
      expect(await tier.getMany([], categoryKind)).toEqual([]);
      await tier.setMany([]);
      await tier.deleteMany([]);
    });

    it('overwrites an entry', async () => {
      const { tier, key } = await make();
      await tier.setMany([write(key('o'), { id: 1, name: 'old', slug: 'o' })]);
      const fresh = write(key('o'), { id: 1, name: 'new', slug: 'o' });
      await tier.setMany([fresh]);
      expect(await tier.getMany([key('o')], categoryKind)).toEqual([fresh.entry]);
    });

    it('deletes entries', async () => {
      const { tier, key } = await make();
      await tier.setMany([write(key('d1'), { id: 1, name: 'A', slug: 'a' }), write(key('d2'), { id: 2, name: 'B', slug: 'b' })]);
      await tier.deleteMany([key('d1'), key('d2')]);
      expect(await tier.getMany([key('d1'), key('d2')], categoryKind)).toEqual([undefined, undefined]);
    });

    it('drops an entry once its TTL has passed', async () => {
      const { tier, key } = await make();
      await tier.setMany([write(key('t'), { id: 1, name: 'A', slug: 'a' }, 40)]);
      // The tiers keep their own clocks (Redis's, lru-cache's), so this one test really waits.
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(await tier.getMany([key('t')], categoryKind)).toEqual([undefined]);
    });
  });
}
