import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/cache/codec.ts';
import { HeardGenerations } from '../../../src/cache/coherence/heardGenerations.ts';
import { Invalidator, type GenerationalTier, type InvalidationPublisher } from '../../../src/cache/coherence/invalidator.ts';
import type { CacheEntry } from '../../../src/cache/entry.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import type { TierFence, TierWrite } from '../../../src/cache/tiers/tier.ts';
import type { CategoryRecord } from '../../../src/catalog/records.ts';
import { categoryKind as kind } from '../../support/testKinds.ts';

const logger = pino({ level: 'silent' });
const read = { key: 'Category#1', tags: ['Category:1', 'Category'] };

function write(name: string): TierWrite {
  const entry: CacheEntry<CategoryRecord> = { value: { id: 1, name, slug: 'c1' }, expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 60_000, computeMs: 0, version: 0 };
  return { ...read, entry, bytes: encodeEntry(entry), ttlMs: 60_000 };
}

/**
 * A shared tier that fails the first invalidation (Redis hung) and answers the next ones; each
 * answer is announced, so the test waits on the retry itself, not on a sleep.
 */
function flakySharedTier() {
  const calls: string[][] = [];
  const waiters: Array<() => void> = [];
  let failuresLeft = 1;
  const tier = {
    name: 'L3',
    async invalidateTagsWithGenerations(tags: readonly string[]) {
      calls.push([...tags]);
      const result = failuresLeft-- > 0 ? undefined : tags.map((_, i) => `g${calls.length}-${i}`);
      queueMicrotask(() => waiters.splice(0).forEach((wake) => wake()));
      return result;
    },
  } as unknown as GenerationalTier;
  const nextCall = () => new Promise<void>((resolve) => waiters.push(resolve));
  return { tier, calls, nextCall };
}

function setup() {
  const local = new MemoryTier({ maxBytes: 1 << 20 });
  const heard = new HeardGenerations();
  const shared = flakySharedTier();
  const published: Array<{ tags: readonly string[]; generations?: readonly string[] }> = [];
  const bus: InvalidationPublisher = {
    async publish(tags, generations) {
      published.push({ tags, ...(generations ? { generations } : {}) });
      return true;
    },
  };
  const dropped: string[][] = [];
  const invalidator = new Invalidator({
    shared: shared.tier,
    dropLocal: (tags): TierFence | undefined => {
      dropped.push([...tags]);
      void local.invalidateTags(tags);
      return local.currentFence();
    },
    heard,
    bus,
    logger,
    retryMs: 5,
  });
  return { local, heard, shared, published, dropped, invalidator };
}

describe('Invalidator', () => {
  it('a retried shared invalidation drops the local tier again before it records what was heard', async () => {
    const { local, shared, heard, published, dropped, invalidator } = setup();
    try {
      await invalidator.invalidate(['Category:1']);
      expect(dropped).toEqual([['Category:1']]);
      // Between the failed attempt and its retry, the old entry is still valid in the shared tier, and
      // a read here copies it up into the local tier, under a fence taken after the first drop.
      await local.setMany([write('old')], local.currentFence());
      expect((await local.getMany([read], kind)).entries[0]?.value?.name).toBe('old');

      const retried = shared.nextCall();
      await retried;
      await new Promise((resolve) => setImmediate(resolve));
      expect(shared.calls).toEqual([['Category:1'], ['Category:1']]);
      expect((await local.getMany([read], kind)).entries[0]).toBeUndefined();
      expect(dropped).toEqual([['Category:1'], ['Category:1']]);
      // Recorded as heard only with the generation the retry set, and published with it.
      expect(heard.admits(new Map([['Category:1', 'g2-0']]))).toBe(true);
      expect(published.at(-1)).toEqual({ tags: ['Category:1'], generations: ['g2-0'] });
    } finally {
      invalidator.close();
    }
  });
});
