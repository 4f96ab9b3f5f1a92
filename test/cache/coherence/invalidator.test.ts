import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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

/**
 * A shared tier whose invalidations succeed or fail as `outcomes` says, one a call (then succeed),
 * and an invalidator over it that writes every step it takes to `steps`.
 */
function scripted(outcomes: Array<'fails' | 'succeeds'>, options: { shared?: boolean } = {}) {
  const steps: string[] = [];
  let calls = 0;
  const shared = {
    name: 'L3',
    async invalidateTagsWithGenerations(tags: readonly string[]) {
      calls += 1;
      steps.push(`shared ${tags.join(',')}`);
      return (outcomes[calls - 1] ?? 'succeeds') === 'succeeds' ? tags.map((tag) => `${tag}@${calls}`) : undefined;
    },
  } as unknown as GenerationalTier;
  const local = new MemoryTier({ maxBytes: 1 << 20 });
  const heard = new HeardGenerations();
  const invalidator = new Invalidator({
    ...(options.shared === false ? {} : { shared }),
    dropLocal: (tags) => {
      steps.push(`drop ${tags.join(',')}`);
      void local.invalidateTags(tags);
      return local.currentFence();
    },
    heard,
    bus: {
      async publish(tags, generations) {
        steps.push(`publish ${tags.join(',')} ${generations?.join(',') ?? '-'}`);
        return true;
      },
    },
    onInvalidated: (tags) => steps.push(`purge ${tags.join(',')}`),
    logger,
    retryMs: 400,
  });
  return { steps, heard, local, invalidator, calls: () => calls };
}

describe('Invalidator: one invalidation', () => {
  it('goes shared tier, local tier, bus, purge hook, in that order, and returns both fences', async () => {
    const { steps, heard, local, invalidator } = scripted([]);
    const fences = await invalidator.invalidate(['A', 'B']);
    expect(steps).toEqual(['shared A,B', 'drop A,B', 'publish A,B A@1,B@1', 'purge A,B']);
    expect(fences.generations).toEqual(
      new Map([
        ['A', 'A@1'],
        ['B', 'B@1'],
      ]),
    );
    expect(fences.local).toEqual(local.currentFence());
    // What the local tier has applied, for the late fills that follow.
    expect(heard.admits(new Map([['A', 'A@1']]))).toBe(true);
  });

  it('does nothing for no tags', async () => {
    const { steps, invalidator } = scripted([]);
    expect(await invalidator.invalidate([])).toEqual({});
    expect(steps).toEqual([]);
  });

  it('without a shared tier: drops locally and tells the others, with no generations and nothing to retry', async () => {
    const { steps, invalidator } = scripted([], { shared: false });
    const fences = await invalidator.invalidate(['A']);
    expect(steps).toEqual(['drop A', 'publish A -', 'purge A']);
    expect(fences.generations).toBeUndefined();
    expect(invalidator.unconfirmed(['A'])).toBe(false);
  });
});

describe('Invalidator: a failed shared invalidation', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('still drops locally and tells the others; its tags are unconfirmed until a retry lands', async () => {
    const { steps, invalidator } = scripted(['fails']);
    try {
      const fences = await invalidator.invalidate(['A']);
      expect(fences.generations).toBeUndefined();
      expect(steps).toEqual(['shared A', 'drop A', 'publish A -', 'purge A']);
      expect(invalidator.unconfirmed(['A', 'Z'])).toBe(true);
      expect(invalidator.unconfirmed(['Z'])).toBe(false);

      await vi.advanceTimersByTimeAsync(50);
      expect(invalidator.unconfirmed(['A'])).toBe(false);
      // The retry drops the local tier again and tells the others the generation; not the purge hook.
      expect(steps.slice(4)).toEqual(['shared A', 'drop A', 'publish A A@2']);
    } finally {
      invalidator.close();
    }
  });

  it('retries after 50 ms, then twice as long each time, up to retryMs', async () => {
    const { invalidator, calls } = scripted(['fails', 'fails', 'fails', 'fails', 'fails']);
    try {
      await invalidator.invalidate(['A']);
      const at: number[] = [];
      for (let ms = 1; ms <= 1200 && calls() < 5; ms++) {
        const before = calls();
        await vi.advanceTimersByTimeAsync(1);
        if (calls() > before) at.push(ms);
      }
      expect(at).toEqual([50, 150, 350, 750]);
      expect(invalidator.unconfirmed(['A'])).toBe(true);
    } finally {
      invalidator.close();
    }
  });

  it('is confirmed by a later write’s successful invalidation of the same tag, before any retry', async () => {
    const { steps, invalidator } = scripted(['fails', 'succeeds']);
    try {
      await invalidator.invalidate(['A']);
      await invalidator.invalidate(['A']);
      expect(invalidator.unconfirmed(['A'])).toBe(false);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(steps.filter((step) => step === 'shared A')).toHaveLength(2);
    } finally {
      invalidator.close();
    }
  });

  it('is tried at once on retryNow (the shared tier is back), and never after close', async () => {
    const first = scripted(['fails']);
    await first.invalidator.invalidate(['A']);
    first.invalidator.retryNow();
    await vi.advanceTimersByTimeAsync(0);
    expect(first.calls()).toBe(2);
    expect(first.invalidator.unconfirmed(['A'])).toBe(false);
    first.invalidator.close();

    const second = scripted(['fails']);
    await second.invalidator.invalidate(['A']);
    second.invalidator.close();
    second.invalidator.retryNow();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(second.calls()).toBe(1);
    // Unsent stays unsent: its entries expire with their TTL.
    expect(second.invalidator.unconfirmed(['A'])).toBe(true);
  });
});
