import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/cache/codec.ts';
import type { CacheEntry } from '../../../src/cache/entry.ts';
import type { TierWrite } from '../../../src/cache/tiers/tier.ts';
import { InvalidationLog } from '../../../src/cache/coherence/invalidationLog.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import { category } from '../../support/testKinds.ts';
import { entries, read, store, tierContract, write } from './tierContract.ts';

tierContract('MemoryTier (L2)', async () => ({ tier: new MemoryTier({ maxBytes: 1024 * 1024 }), key: (k) => k, tag: (t) => t }));

describe('MemoryTier is bounded by bytes', () => {
  it('never holds more than maxBytes, evicting the least recently used first', async () => {
    const tier = new MemoryTier({ maxBytes: 4096 });
    for (let id = 1; id <= 200; id++) {
      await store(tier, [write(`k${id}`, { id, name: 'x'.repeat(50), slug: `s${id}` }, { tags: [`Category:${id}`] })]);
      expect(tier.sizeBytes).toBeLessThanOrEqual(4096);
    }
    const [oldest, newest] = await entries(tier, [
      { key: 'k1', tags: ['Category:1'] },
      { key: 'k200', tags: ['Category:200'] },
    ]);
    expect(oldest).toBeUndefined();
    expect(newest?.value?.id).toBe(200);
  });

  it('counts an entry by what it holds, so large values take more room', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    await store(tier, [write('small', { id: 1, name: 'a', slug: 'a' })]);
    const small = tier.sizeBytes;
    await store(tier, [write('large', { id: 2, name: 'b'.repeat(10_000), slug: 'b' })]);
    expect(tier.sizeBytes - small).toBeGreaterThan(10_000);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses maxBytes %s, naming the option', (maxBytes) => {
    expect(() => new MemoryTier({ maxBytes })).toThrow(/maxBytes/);
  });

  it('forgets the tags of evicted entries: invalidating them later touches nothing', async () => {
    const tier = new MemoryTier({ maxBytes: 4096 });
    for (let id = 1; id <= 200; id++) await store(tier, [write(`k${id}`, category(id), { tags: [`Category:${id}`] })]);
    const survivor = write('k200', category(200), { tags: ['Category:200'] });
    expect(await tier.invalidateTags(Array.from({ length: 199 }, (_, i) => `Category:${i + 1}`))).toBe(true);
    expect((await entries(tier, [read(survivor)]))[0]?.value).toEqual(category(200));
  });
});

describe('MemoryTier keeps no buffer larger than the one it stores', () => {
  it('copies a body that is a view into a larger buffer (a socket read) into one of its own size', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    const read = Buffer.alloc(64 * 1024, 7);
    const w = bodyWrite('r', read.subarray(1000, 1100));
    await store(tier, [w]);
    const body = tier.peek<{ body: Uint8Array }>('r')?.value?.body;
    expect(body?.byteLength).toBe(100);
    expect(body?.buffer.byteLength).toBe(100);
    expect(Buffer.isBuffer(body)).toBe(true);
    expect(body).toEqual(read.subarray(1000, 1100));
  });

  it('copies a small Buffer.from body out of its pool slab', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    const pooled = Buffer.from('{"data":{}}');
    expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.byteLength);
    await store(tier, [bodyWrite('r', pooled)]);
    expect(tier.peek<{ body: Uint8Array }>('r')?.value?.body.buffer.byteLength).toBe(pooled.byteLength);
  });

  it('keeps a body that owns its memory as it is, and a frozen value frozen', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    const own = new Uint8Array(100);
    await store(tier, [bodyWrite('own', own)]);
    expect(tier.peek<{ body: Uint8Array }>('own')?.value?.body).toBe(own);
    await store(tier, [bodyWrite('frozen', Buffer.alloc(4096).subarray(0, 10), { freeze: true })]);
    expect(Object.isFrozen(tier.peek('frozen')?.value)).toBe(true);
  });

  it('counts a body by its length', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    await store(tier, [bodyWrite('small', new Uint8Array(10))]);
    const small = tier.sizeBytes;
    await store(tier, [bodyWrite('large', new Uint8Array(100_010))]);
    expect(tier.sizeBytes - 2 * small).toBeGreaterThanOrEqual(100_000);
  });
});

describe('MemoryTier refuses an entry larger than maxBytes', () => {
  it('stores nothing and leaves nothing in the tag index', async () => {
    const tier = new MemoryTier({ maxBytes: 4096 });
    const big = write('big', category(1, 'x'.repeat(5000)), { tags: ['Category:1', 'Category'] });
    await store(tier, [big]);
    expect(await entries(tier, [read(big)])).toEqual([undefined]);
    expect(tier.sizeBytes).toBe(0);
    expect(tier.indexedTags).toBe(0);
  });

  it('drops the entry it would have replaced, and that entry’s tags', async () => {
    const tier = new MemoryTier({ maxBytes: 4096 });
    const small = write('k', category(1), { tags: ['Category:1'] });
    await store(tier, [small]);
    await store(tier, [write('k', category(1, 'x'.repeat(5000)), { tags: ['Category:1', 'Category'] })]);
    expect(await entries(tier, [read(small)])).toEqual([undefined]);
    expect(tier.sizeBytes).toBe(0);
    expect(tier.indexedTags).toBe(0);
  });
});

describe('MemoryTier remembers a bounded number of invalidated tags', () => {
  it('refuses, conservatively, a write fenced before a tag it has since forgotten', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024, rememberedTags: 2 });
    const w = write('k', category(1), { tags: ['Category:1'] });
    const fence = await tier.fence(w.tags);
    // Category:1 is pushed out of the two remembered tags: the tier can no longer tell it was invalidated.
    await tier.invalidateTags(['Category:1']);
    await tier.invalidateTags(['Category:2']);
    await tier.invalidateTags(['Category:3']);
    await tier.setMany([w], fence);
    expect(await entries(tier, [read(w)])).toEqual([undefined]);
  });

  it('accepts a write fenced after the forgotten tags', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024, rememberedTags: 2 });
    await tier.invalidateTags(['Category:1']);
    await tier.invalidateTags(['Category:2']);
    await tier.invalidateTags(['Category:3']);
    const w = write('k', category(1), { tags: ['Category:1'] });
    await tier.setMany([w], await tier.fence(w.tags));
    expect(await entries(tier, [read(w)])).toEqual([w.entry]);
  });

  // lru-cache disposes an overwritten value too: a tag invalidated twice must not count as forgotten.
  it('accepts a write fenced before repeated invalidations of other tags', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    const w = write('k', category(1), { tags: ['Category:1'] });
    const fence = await tier.fence(w.tags);
    await tier.invalidateTags(['Category:2']);
    await tier.invalidateTags(['Category:2']);
    await tier.setMany([w], fence);
    expect(await entries(tier, [read(w)])).toEqual([w.entry]);
  });
});

describe('MemoryTier while paused (it cannot hear other instances’ invalidations)', () => {
  it('reads miss and writes are dropped', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    const held = write('held', category(1));
    await store(tier, [held]);
    tier.pause();
    expect(await entries(tier, [read(held)])).toEqual([undefined]);
    const dropped = write('dropped', category(2));
    await store(tier, [dropped]);
    tier.resume();
    expect(await entries(tier, [read(held), read(dropped)])).toEqual([undefined, undefined]);
  });

  it('after resuming, refuses fills fenced before it and accepts later ones', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    const w = write('k', category(1), { tags: ['Category:1'] });
    const before = await tier.fence(w.tags);
    tier.pause();
    tier.resume();
    await tier.setMany([w], before);
    expect(await entries(tier, [read(w)])).toEqual([undefined]);
    await tier.setMany([w], await tier.fence(w.tags));
    expect(await entries(tier, [read(w)])).toEqual([w.entry]);
  });
});

describe('MemoryTier fences with a shared InvalidationLog', () => {
  it('refuses a fill whose tag was invalidated in the log by someone else after its fence', async () => {
    const log = new InvalidationLog();
    const tier = new MemoryTier({ maxBytes: 1024 * 1024, log });
    const w = write('k', category(1), { tags: ['Category:1'] });
    const fence = tier.currentFence();
    log.record(['Category:1']);
    expect(tier.invalidatedSince(w.tags, fence)).toBe(true);
    await tier.setMany([w], fence);
    expect(await entries(tier, [read(w)])).toEqual([undefined]);
  });

  it('records its own invalidations in the log, and clear() refuses every fence taken before it', async () => {
    const log = new InvalidationLog();
    const tier = new MemoryTier({ maxBytes: 1024 * 1024, log });
    expect(tier.log).toBe(log);
    const fence = log.fence();
    await tier.invalidateTags(['Category:1']);
    expect(log.invalidatedSince(['Category:1'], fence)).toBe(true);
    const beforeClear = log.fence();
    tier.clear();
    expect(log.invalidatedSince(['Other'], beforeClear)).toBe(true);
  });

  it('makes a log of its own when given none', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024, rememberedTags: 5 });
    expect(tier.log).toBeInstanceOf(InvalidationLog);
  });

  it('refuses rememberedTags next to a shared log: that log is configured where it is made', () => {
    // @ts-expect-error rememberedTags and log do not go together
    expect(() => new MemoryTier({ maxBytes: 1024, log: new InvalidationLog(), rememberedTags: 5 })).toThrow(/rememberedTags/);
  });
});

/** A write of a response-like value: a body, and the fields around it. */
function bodyWrite(key: string, body: Uint8Array, options: { freeze?: boolean } = {}): TierWrite {
  const value = { kind: 'response', body, headers: { 'content-type': 'application/json' }, storedAt: 0, tags: ['Product:1'] };
  const entry: CacheEntry<unknown> = { value: options.freeze ? Object.freeze(value) : value, expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 60_000, computeMs: 0, version: 0 };
  return { key, tags: ['Product:1'], entry, bytes: encodeEntry(entry), ttlMs: 60_000 };
}
