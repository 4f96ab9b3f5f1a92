import { describe, expect, it } from 'vitest';
import type { CachedKind } from '../../src/cache/entry.ts';
import { ReadThrough } from '../../src/cache/readThrough.ts';
import { MemoryTier } from '../../src/cache/tiers/memoryTier.ts';
import { categoryShape, type CategoryRecord } from '../../src/catalog/records.ts';

const kind: CachedKind<CategoryRecord> = { name: 'Category', shapeVersion: 'test', ttlSeconds: 60, absentTtlSeconds: 5, shape: categoryShape };
const row = (id: number): CategoryRecord => ({ id, name: `C${id}`, slug: `c${id}` });

/** A source that records what it was asked for: the database stand-in of a pure-logic test. */
function source(rows: Record<number, CategoryRecord>) {
  const calls: number[][] = [];
  return {
    calls,
    load: async (ids: number[]) => {
      calls.push(ids);
      return ids.map((id) => rows[id] ?? null);
    },
  };
}

function setup() {
  let now = 1_000_000;
  const l2 = new MemoryTier({ maxBytes: 1 << 20 });
  const l3 = new MemoryTier({ maxBytes: 1 << 20 });
  const readThrough = new ReadThrough({ tiers: [l2, l3], now: () => now });
  const get = (ids: number[], load: (ids: number[]) => Promise<(CategoryRecord | null)[]>) =>
    readThrough.getMany(kind, { items: ids, keys: ids.map((id) => `k${id}`) }, load);
  return { l2, l3, get, advance: (ms: number) => (now += ms) };
}

describe('ReadThrough', () => {
  it('loads only what no tier has, once per batch, and fills every tier', async () => {
    const { l2, l3, get } = setup();
    const db = source({ 1: row(1), 2: row(2), 3: row(3) });
    expect(await get([1, 2], db.load)).toEqual([row(1), row(2)]);
    expect(await get([1, 2, 3], db.load)).toEqual([row(1), row(2), row(3)]);
    expect(db.calls).toEqual([[1, 2], [3]]);
    expect((await l2.getMany(['k3'], kind))[0]?.value).toEqual(row(3));
    expect((await l3.getMany(['k3'], kind))[0]?.value).toEqual(row(3));
  });

  it('copies a lower-tier hit into the tiers above it', async () => {
    const { l2, get } = setup();
    const db = source({ 1: row(1) });
    await get([1], db.load);
    await l2.deleteMany(['k1']);
    expect(await get([1], db.load)).toEqual([row(1)]);
    expect(db.calls).toHaveLength(1);
    expect((await l2.getMany(['k1'], kind))[0]?.value).toEqual(row(1));
  });

  it('caches a missing row as absent for the absent TTL, then asks again', async () => {
    const { get, advance } = setup();
    const db = source({});
    expect(await get([9], db.load)).toEqual([null]);
    advance(4_999);
    expect(await get([9], db.load)).toEqual([null]);
    expect(db.calls).toHaveLength(1);
    advance(1);
    await get([9], db.load);
    expect(db.calls).toHaveLength(2);
  });

  it('never serves an entry past its TTL, by the injected clock', async () => {
    const { get, advance } = setup();
    const db = source({ 1: row(1) });
    await get([1], db.load);
    advance(59_999);
    await get([1], db.load);
    expect(db.calls).toHaveLength(1);
    advance(1);
    await get([1], db.load);
    expect(db.calls).toHaveLength(2);
  });

  it('records how long the load took, for early refresh', async () => {
    let elapsed = 0;
    const l2 = new MemoryTier({ maxBytes: 1 << 20 });
    const readThrough = new ReadThrough({ tiers: [l2], now: () => 0, elapsed: () => elapsed });
    await readThrough.getMany(kind, { items: [1], keys: ['k1'] }, async () => {
      elapsed += 42;
      return [row(1)];
    });
    expect((await l2.getMany(['k1'], kind))[0]?.computeMs).toBe(42);
  });

  it('caches nothing for a kind whose TTL is 0, and works with no tiers at all', async () => {
    const { l2 } = setup();
    const db = source({ 1: row(1) });
    const uncached = { ...kind, ttlSeconds: 0 };
    const readThrough = new ReadThrough({ tiers: [l2] });
    await readThrough.getMany(uncached, { items: [1], keys: ['k1'] }, db.load);
    expect(await l2.getMany(['k1'], kind)).toEqual([undefined]);
    const none = new ReadThrough({ tiers: [] });
    expect(await none.getMany(kind, { items: [1], keys: ['k1'] }, db.load)).toEqual([row(1)]);
  });

  it('does not cache anything when the load fails', async () => {
    const { l2, get } = setup();
    await expect(get([1], async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await l2.getMany(['k1'], kind)).toEqual([undefined]);
  });

  it('freezes cached values: one request cannot change what another reads', async () => {
    const { get } = setup();
    const [value] = await get([1], source({ 1: row(1) }).load);
    expect(Object.isFrozen(value)).toBe(true);
  });
});
