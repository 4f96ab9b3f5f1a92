import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/cache/codec.ts';
import type { CacheEntry } from '../../../src/cache/entry.ts';
import type { CacheTier, TierFence, TierRead, TierWrite } from '../../../src/cache/tiers/tier.ts';
import type { CategoryRecord } from '../../../src/catalog/records.ts';
import { category, categoryKind } from '../../support/testKinds.ts';

export interface WriteOptions {
  /** @default ['Category'] */
  tags?: readonly string[];
  /** @default 0 */
  version?: number;
  /** @default 60_000 */
  ttlMs?: number;
}

/** A TierWrite as ReadThrough builds one: the entry, its bytes, its tags and its TTL. */
export function write(key: string, value: CategoryRecord | null, options: WriteOptions = {}): TierWrite {
  const ttlMs = options.ttlMs ?? 60_000;
  const entry: CacheEntry<CategoryRecord> = {
    value,
    expiresAt: Date.now() + ttlMs,
    staleUntil: Date.now() + ttlMs,
    computeMs: 1.5,
    version: options.version ?? 0,
  };
  return { key, tags: options.tags ?? ['Category'], entry, bytes: encodeEntry(entry), ttlMs };
}

/** A read of what `write` stored: same key, same tags. */
export function read(w: Pick<TierWrite, 'key' | 'tags'>): TierRead {
  return { key: w.key, tags: w.tags };
}

/** Writes under a fence taken now, as a fill that raced nothing would. */
export async function store(tier: CacheTier, writes: readonly TierWrite[]): Promise<void> {
  await tier.setMany(writes, await tier.fence(writes.flatMap((w) => w.tags)));
}

/** The entries a tier serves for `reads`, in order. */
export async function entries(tier: CacheTier, reads: readonly TierRead[]): Promise<(CacheEntry<CategoryRecord> | undefined)[]> {
  return (await tier.getMany(reads, categoryKind)).entries;
}

/** The two ways a fill gets its fence: from the read that missed, or from fence(). */
const fenceTakers: Array<[string, (tier: CacheTier, w: TierWrite) => Promise<TierFence>]> = [
  ['getMany', async (tier, w) => (await tier.getMany([read(w)], categoryKind)).fence],
  ['fence', async (tier, w) => tier.fence(w.tags)],
];

export interface TierUnderTest {
  tier: CacheTier;
  /** A key of this test's own namespace. */
  key: (k: string) => string;
  /** A tag of this test's own namespace (on a shared Redis, tags are shared by every test). */
  tag: (t: string) => string;
}

/**
 * The behaviour every shared tier must have. Each tier's test file calls this with a factory that
 * gives a tier and a key and tag namespace of its own for each test.
 */
export function tierContract(name: string, make: () => Promise<TierUnderTest>) {
  describe(`${name} satisfies the tier contract`, () => {
    describe('storage', () => {
      it('reads a missing key as a miss, with a fence', async () => {
        const { tier, key, tag } = await make();
        const lookup = await tier.getMany([{ key: key('nope'), tags: [tag('T')] }], categoryKind);
        expect(lookup.entries).toEqual([undefined]);
        expect(lookup.fence.tier).toBe(tier.name);
      });

      it('returns what was stored: value, expiry, grace, compute time and version', async () => {
        const { tier, key, tag } = await make();
        const w = write(key('a'), category(1), { tags: [tag('Category:1')], version: 3 });
        await store(tier, [w]);
        expect(await entries(tier, [read(w)])).toEqual([w.entry]);
      });

      it('stores absent markers', async () => {
        const { tier, key, tag } = await make();
        const w = write(key('absent'), null, { tags: [tag('Category:9')] });
        await store(tier, [w]);
        expect(await entries(tier, [read(w)])).toEqual([w.entry]);
      });

      it('answers a batch in key order, hits and misses mixed', async () => {
        const { tier, key, tag } = await make();
        const writes = [1, 2, 3].map((id) => write(key(`m${id}`), category(id), { tags: [tag(`Category:${id}`), tag('Category')] }));
        await store(tier, writes);
        const missing = { key: key('missing'), tags: [tag('Category:4'), tag('Category')] };
        const result = await entries(tier, [read(writes[2]!), missing, read(writes[0]!), read(writes[1]!)]);
        expect(result).toEqual([writes[2]!.entry, undefined, writes[0]!.entry, writes[1]!.entry]);
      });

      it('handles empty batches', async () => {
        const { tier } = await make();
        const lookup = await tier.getMany([], categoryKind);
        expect(lookup.entries).toEqual([]);
        await tier.setMany([], lookup.fence);
        expect(await tier.invalidateTags([])).toBe(true);
      });

      it('stores entries without tags', async () => {
        const { tier, key } = await make();
        const w = write(key('untagged'), category(1), { tags: [] });
        await store(tier, [w]);
        expect(await entries(tier, [read(w)])).toEqual([w.entry]);
      });

      it('drops an entry once its TTL has passed', async () => {
        const { tier, key, tag } = await make();
        const w = write(key('t'), category(1), { tags: [tag('Category:1')], ttlMs: 40 });
        await store(tier, [w]);
        // The tiers keep their own clocks (Redis's, lru-cache's), so this one test really waits.
        await new Promise((resolve) => setTimeout(resolve, 120));
        expect(await entries(tier, [read(w)])).toEqual([undefined]);
      });
    });

    describe('version guard', () => {
      it('never replaces an entry holding a higher version', async () => {
        const { tier, key, tag } = await make();
        const newer = write(key('v'), category(1, 'newer'), { tags: [tag('Category:1')], version: 5 });
        await store(tier, [newer]);
        await store(tier, [write(key('v'), category(1, 'older'), { tags: [tag('Category:1')], version: 4 })]);
        expect(await entries(tier, [read(newer)])).toEqual([newer.entry]);
      });

      it.each([
        ['an equal', 5],
        ['a higher', 6],
      ])('lets %s version replace it', async (_, version) => {
        const { tier, key, tag } = await make();
        await store(tier, [write(key('v'), category(1, 'first'), { tags: [tag('Category:1')], version: 5 })]);
        const second = write(key('v'), category(1, 'second'), { tags: [tag('Category:1')], version });
        await store(tier, [second]);
        expect(await entries(tier, [read(second)])).toEqual([second.entry]);
      });

      it('keeps the highest version whatever the order of a batch', async () => {
        const { tier, key, tag } = await make();
        const tags = [tag('Category:1')];
        const writes = [7, 2, 9, 3].map((version) => write(key('v'), category(1, `v${version}`), { tags, version }));
        for (const w of writes) await store(tier, [w]);
        expect((await entries(tier, [read(writes[0]!)]))[0]?.version).toBe(9);
      });
    });

    describe('tags', () => {
      it('invalidating tags makes every entry carrying any of them a miss, and leaves the others', async () => {
        const { tier, key, tag } = await make();
        const a = write(key('a'), category(1), { tags: [tag('Category:1'), tag('Category')] });
        const b = write(key('b'), category(2), { tags: [tag('Category:2'), tag('Category')] });
        const c = write(key('c'), category(3), { tags: [tag('Category:3'), tag('Other')] });
        const d = write(key('d'), category(4), { tags: [tag('Category:4')] });
        await store(tier, [a, b, c, d]);
        expect(await tier.invalidateTags([tag('Category:1'), tag('Other')])).toBe(true);
        expect(await entries(tier, [a, b, c, d].map(read))).toEqual([undefined, b.entry, undefined, d.entry]);
        expect(await tier.invalidateTags([tag('Category')])).toBe(true);
        expect(await entries(tier, [a, b, c, d].map(read))).toEqual([undefined, undefined, undefined, d.entry]);
      });

      it('invalidating a tag nothing carries changes nothing', async () => {
        const { tier, key, tag } = await make();
        const a = write(key('a'), category(1), { tags: [tag('Category:1')] });
        await store(tier, [a]);
        expect(await tier.invalidateTags([tag('Nobody')])).toBe(true);
        expect(await entries(tier, [read(a)])).toEqual([a.entry]);
      });

      it('serves an entry written again after its tag was invalidated', async () => {
        const { tier, key, tag } = await make();
        const tags = [tag('Category:1')];
        await store(tier, [write(key('a'), category(1, 'old'), { tags })]);
        await tier.invalidateTags(tags);
        const again = write(key('a'), category(1, 'new'), { tags });
        await store(tier, [again]);
        expect(await entries(tier, [read(again)])).toEqual([again.entry]);
      });
    });

    describe('fences', () => {
      it.each(fenceTakers)('never serves a write fenced (by %s) before an invalidation of one of its tags', async (_, takeFence) => {
        const { tier, key, tag } = await make();
        const w = write(key('f'), category(1, 'loaded before the write'), { tags: [tag('Category:1'), tag('Category')] });
        const fence = await takeFence(tier, w);
        // The write that commits while the value is being loaded invalidates one of its tags.
        await tier.invalidateTags([tag('Category')]);
        await tier.setMany([w], fence);
        expect(await entries(tier, [read(w)])).toEqual([undefined]);
      });

      it.each(fenceTakers)('serves a write fenced (by %s) after the invalidation', async (_, takeFence) => {
        const { tier, key, tag } = await make();
        const w = write(key('f'), category(1, 'loaded after the write'), { tags: [tag('Category:1'), tag('Category')] });
        await tier.invalidateTags([tag('Category:1')]);
        await tier.setMany([w], await takeFence(tier, w));
        expect(await entries(tier, [read(w)])).toEqual([w.entry]);
      });

      it('fences each write of a batch by its own tags', async () => {
        const { tier, key, tag } = await make();
        const stale = write(key('s'), category(1), { tags: [tag('Category:1')] });
        const fine = write(key('k'), category(2), { tags: [tag('Category:2')] });
        const { fence } = await tier.getMany([read(stale), read(fine)], categoryKind);
        await tier.invalidateTags([tag('Category:1')]);
        await tier.setMany([stale, fine], fence);
        expect(await entries(tier, [read(stale), read(fine)])).toEqual([undefined, fine.entry]);
      });

      it('serves a write fenced before an invalidation of other tags only', async () => {
        const { tier, key, tag } = await make();
        const w = write(key('f'), category(1), { tags: [tag('Category:1')] });
        const fence = await tier.fence(w.tags);
        await tier.invalidateTags([tag('Category:2')]);
        await tier.setMany([w], fence);
        expect(await entries(tier, [read(w)])).toEqual([w.entry]);
      });
    });
  });
}
