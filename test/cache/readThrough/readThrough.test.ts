import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../../src/cache/codec.ts';
import { TOMBSTONE_VERSION, type CacheEntry, type CachedKind } from '../../../src/cache/entry.ts';
import { ReadThrough, type CacheItem, type LoadEvent, type ReadThroughOptions } from '../../../src/cache/readThrough/readThrough.ts';
import { SingleFlight } from '../../../src/cache/stampede/singleFlight.ts';
import { tags } from '../../../src/cache/tags/tags.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import type { CacheTier } from '../../../src/cache/tiers/tier.ts';
import type { CategoryRecord, ProductRecord } from '../../../src/catalog/records.ts';
import { category, categoryKind, productKind } from '../../support/testKinds.ts';

const gracedKind: CachedKind<CategoryRecord> = { ...categoryKind, graceSeconds: 30 };
const product = (id: number, version: number): ProductRecord => ({
  id,
  sku: `SKU-${id}`,
  name: `P${id} v${version}`,
  description: '',
  priceCents: 100,
  stock: 1,
  categoryId: 1,
  viewCount: 0,
  version,
  createdAt: new Date(0),
  updatedAt: new Date(version),
});

/** A DataLoader batch of ids of one type, with the key and tags each item is cached under. */
function batch(ids: readonly number[], typeName = 'Category'): CacheItem<number>[] {
  return ids.map((id) => ({ item: id, key: `${typeName}#${id}`, tags: [tags.entity(typeName, id), tags.type(typeName)] }));
}

/** The options every ReadThrough here shares: no lease wait to speak of, XFetch as configured by default. */
const basics = { leaseWaitMs: 1000, freshness: { beta: 1 } };

/** What `tier` serves for one id, read as ReadThrough reads it. */
async function cached<V>(tier: CacheTier, kind: CachedKind<V>, id: number): Promise<CacheEntry<V> | undefined> {
  const request = batch([id], kind.name);
  return (await tier.getMany([{ key: request[0]!.key, tags: request[0]!.tags }], kind)).entries[0];
}

/** A promise the test settles when it chooses. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

/** Lets background work that waits on nothing but promises run to its end (the tiers here do no I/O). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The database stand-in of a pure-logic test: rows by id. A load reads its rows at once (its
 * snapshot, as a query would) and records the ids it was asked for; `hold()` keeps the next load
 * open after that read until the test releases it, as a slow query racing a write would.
 */
function database<V>(initial: Record<number, V>) {
  const rows = new Map<number, V>(Object.entries(initial).map(([id, row]) => [Number(id), row]));
  const calls: number[][] = [];
  let held: { started: ReturnType<typeof deferred>; released: ReturnType<typeof deferred> } | undefined;
  return {
    rows,
    calls,
    hold() {
      const next = { started: deferred(), released: deferred() };
      held = next;
      return { started: next.started.promise, release: () => next.released.resolve() };
    },
    load: async (ids: number[]): Promise<(V | null)[]> => {
      calls.push(ids);
      const snapshot = ids.map((id) => rows.get(id) ?? null);
      const holding = held;
      held = undefined;
      if (holding) {
        holding.started.resolve();
        await holding.released.promise;
      }
      return snapshot;
    },
  };
}

/** Two MemoryTiers as L2 and L3, and a ReadThrough over them on an injected clock and random source. */
function setup(options: Partial<ReadThroughOptions> = {}) {
  // random 1 makes ln(random) 0: no early refresh unless a test asks for one.
  const clock = { now: 1_000_000, elapsed: 0, random: 1 };
  const l2 = new MemoryTier({ maxBytes: 1 << 20 });
  const l3 = new MemoryTier({ maxBytes: 1 << 20 });
  const loads: LoadEvent[] = [];
  const refreshErrors: Array<[unknown, string]> = [];
  const readThrough = new ReadThrough({
    tiers: { local: l2, shared: l3 },
    ...basics,
    now: () => clock.now,
    elapsed: () => clock.elapsed,
    random: () => clock.random,
    onLoad: (load) => loads.push(load),
    onRefreshError: (error, kind) => refreshErrors.push([error, kind]),
    ...options,
  });
  // Categories unless a test names another kind (the cast: a default cannot be typed by V).
  const get = <V>(ids: number[], load: (ids: number[]) => Promise<(V | null)[]>, kind: CachedKind<V> = categoryKind as never) => readThrough.getMany(kind, batch(ids, kind.name), load);
  /** What a mutation does: L3 first, then L2 (see coherence/invalidator.ts). */
  const invalidate = async (tagList: string[]) => {
    await l3.invalidateTags(tagList);
    await l2.invalidateTags(tagList);
  };
  const refreshes = () => loads.filter((load) => load.reason === 'refresh');
  return { l2, l3, readThrough, clock, loads, refreshes, refreshErrors, get, invalidate };
}

describe('ReadThrough reads', () => {
  it('loads only what no tier has, once per batch, and fills every tier', async () => {
    const { l2, l3, get, loads } = setup();
    const db = database({ 1: category(1), 2: category(2), 3: category(3) });
    expect(await get([1, 2], db.load)).toEqual([category(1), category(2)]);
    expect(await get([1, 2, 3], db.load)).toEqual([category(1), category(2), category(3)]);
    expect(db.calls).toEqual([[1, 2], [3]]);
    expect(loads.map((load) => load.reason)).toEqual(['miss', 'miss']);
    expect((await cached(l2, categoryKind, 3))?.value).toEqual(category(3));
    expect((await cached(l3, categoryKind, 3))?.value).toEqual(category(3));
  });

  it('copies a lower-tier hit into the tiers above it', async () => {
    const { l2, get } = setup();
    const db = database({ 1: category(1) });
    await get([1], db.load);
    l2.clear();
    expect(await get([1], db.load)).toEqual([category(1)]);
    expect(db.calls).toHaveLength(1);
    expect((await cached(l2, categoryKind, 1))?.value).toEqual(category(1));
  });

  it('caches a missing row as absent for the absent TTL, with no grace, then asks again', async () => {
    const { get, clock } = setup();
    const db = database<CategoryRecord>({});
    expect(await get([9], db.load, gracedKind)).toEqual([null]);
    clock.now += 4_999;
    expect(await get([9], db.load, gracedKind)).toEqual([null]);
    expect(db.calls).toHaveLength(1);
    clock.now += 1;
    await get([9], db.load, gracedKind);
    expect(db.calls).toHaveLength(2);
  });

  it('never serves an entry past its TTL when its kind has no grace, by the injected clock', async () => {
    const { get, clock, loads } = setup();
    const db = database({ 1: category(1) });
    await get([1], db.load);
    clock.now += 59_999;
    await get([1], db.load);
    expect(db.calls).toHaveLength(1);
    clock.now += 1;
    await get([1], db.load);
    expect(db.calls).toHaveLength(2);
    expect(loads.map((load) => load.reason)).toEqual(['miss', 'miss']);
  });

  it('records how long the load took, for early refresh', async () => {
    const { l2, get, clock } = setup();
    await get([1], async () => {
      clock.elapsed += 42;
      return [category(1)];
    });
    expect((await cached(l2, categoryKind, 1))?.computeMs).toBe(42);
  });

  it('caches nothing for a kind whose TTL is 0, and works with no tiers at all', async () => {
    const { l2, readThrough, loads } = setup();
    const db = database({ 1: category(1) });
    expect(await readThrough.getMany({ ...categoryKind, ttlSeconds: 0 }, batch([1]), db.load)).toEqual([category(1)]);
    expect(await cached(l2, categoryKind, 1)).toBeUndefined();
    expect(loads).toEqual([{ kind: 'Category', keys: ['Category#1'], reason: 'miss' }]);
    const none = new ReadThrough({ tiers: {}, ...basics });
    expect(await none.getMany(categoryKind, batch([1]), db.load)).toEqual([category(1)]);
  });

  it('caches nothing when the load fails, and does not remember the failure', async () => {
    const { l2, l3, get } = setup();
    await expect(get([1], async () => Promise.reject(new Error('db down')))).rejects.toThrow('db down');
    expect(await cached(l2, categoryKind, 1)).toBeUndefined();
    expect(await cached(l3, categoryKind, 1)).toBeUndefined();
    expect(await get([1], database({ 1: category(1) }).load)).toEqual([category(1)]);
  });

  it('freezes cached values: one request cannot change what another reads', async () => {
    const { get } = setup();
    const [value] = await get([1], database({ 1: category(1) }).load);
    expect(Object.isFrozen(value)).toBe(true);
  });
});

describe('ReadThrough single flight', () => {
  it('concurrent misses of the same key from two requests load it once', async () => {
    const { get } = setup();
    const db = database({ 1: category(1) });
    const held = db.hold();
    const first = get([1], db.load);
    await held.started;
    const second = get([1], db.load);
    held.release();
    expect(await Promise.all([first, second])).toEqual([[category(1)], [category(1)]]);
    expect(db.calls).toEqual([[1]]);
  });

  it('overlapping batches load each key once: the second loads only what nobody is loading', async () => {
    const { get } = setup();
    const db = database({ 1: category(1), 2: category(2), 3: category(3) });
    const held = db.hold();
    const first = get([1, 2], db.load);
    await held.started;
    const second = get([2, 3], db.load);
    held.release();
    expect(await first).toEqual([category(1), category(2)]);
    expect(await second).toEqual([category(2), category(3)]);
    expect(db.calls).toEqual([[1, 2], [3]]);
  });
});

describe('ReadThrough coherence', () => {
  it('a load racing an invalidation fills no tier', async () => {
    const { l2, l3, get, invalidate } = setup();
    const db = database({ 1: category(1, 'before the write') });
    const held = db.hold();
    const reading = get([1], db.load);
    // The load has read the old row; now a write commits and invalidates it.
    await held.started;
    db.rows.set(1, category(1, 'after the write'));
    await invalidate([tags.entity('Category', 1)]);
    held.release();
    expect(await reading).toEqual([category(1, 'before the write')]);
    expect(await cached(l2, categoryKind, 1)).toBeUndefined();
    expect(await cached(l3, categoryKind, 1)).toBeUndefined();
    expect(await get([1], db.load)).toEqual([category(1, 'after the write')]);
  });

  it('writeThrough stores values fenced after an invalidation, in every tier', async () => {
    const { l2, l3, get, readThrough, invalidate } = setup();
    const db = database({ 1: category(1, 'old') });
    await get([1], db.load);
    await invalidate([tags.entity('Category', 1)]);
    const request = batch([1]);
    await readThrough.writeThrough(categoryKind, [{ key: request[0]!.key, tags: request[0]!.tags, value: category(1, 'new') }]);
    expect((await cached(l2, categoryKind, 1))?.value).toEqual(category(1, 'new'));
    expect((await cached(l3, categoryKind, 1))?.value).toEqual(category(1, 'new'));
    expect(await get([1], db.load)).toEqual([category(1, 'new')]);
    expect(db.calls).toHaveLength(1);
  });

  it('a fill that loaded the old row before a write never replaces what the write stored', async () => {
    const { l2, l3, get, readThrough, invalidate } = setup();
    const db = database({ 1: category(1, 'old') });
    const held = db.hold();
    const reading = get([1], db.load);
    await held.started;
    // The mutation: commit, invalidate, write through.
    db.rows.set(1, category(1, 'new'));
    await invalidate([tags.entity('Category', 1)]);
    const request = batch([1]);
    await readThrough.writeThrough(categoryKind, [{ key: request[0]!.key, tags: request[0]!.tags, value: category(1, 'new') }]);
    held.release();
    await reading;
    expect((await cached(l2, categoryKind, 1))?.value).toEqual(category(1, 'new'));
    expect((await cached(l3, categoryKind, 1))?.value).toEqual(category(1, 'new'));
  });

  it('a tombstone is not overwritten by a later fill of an older version', async () => {
    const { l2, l3, get, readThrough, invalidate } = setup();
    const db = database({ 7: product(7, 3) });
    const productTags = [tags.entity('Product', 7)];
    // The deletion invalidates first; a reader then misses and loads a snapshot that still has the row.
    await invalidate(productTags);
    const held = db.hold();
    const reading = get([7], db.load, productKind);
    await held.started;
    // The deletion commits and writes its tombstone; the reader's fill, fenced after the
    // invalidation, arrives after it.
    db.rows.delete(7);
    const request = batch([7], 'Product');
    await readThrough.writeThrough(productKind, [{ key: request[0]!.key, tags: request[0]!.tags, value: null, version: TOMBSTONE_VERSION }]);
    held.release();
    expect(await reading).toEqual([product(7, 3)]);
    for (const tier of [l2, l3]) {
      const entry = await cached(tier, productKind, 7);
      expect(entry?.value).toBeNull();
      expect(entry?.version).toBe(TOMBSTONE_VERSION);
    }
    // A late write-through of an older version is refused too.
    await readThrough.writeThrough(productKind, [{ key: request[0]!.key, tags: request[0]!.tags, value: product(7, 4) }]);
    expect(await get([7], db.load, productKind)).toEqual([null]);
    expect(db.calls).toHaveLength(1);
  });
});

describe('ReadThrough early refresh (XFetch)', () => {
  /** A category loaded in 100 ms at the start of its TTL, then changed in the database. */
  async function hotEntry(options: Partial<ReadThroughOptions> = {}) {
    const context = setup(options);
    const db = database({ 1: category(1, 'cached') });
    const slowLoad = async (ids: number[]) => {
      context.clock.elapsed += 100;
      return db.load(ids);
    };
    await context.get([1], slowLoad);
    db.rows.set(1, category(1, 'refreshed'));
    return { ...context, db, slowLoad };
  }

  it('close to expiry and on a small sample, serves the cached value and refreshes it once, in the background', async () => {
    const { get, clock, db, slowLoad, refreshes } = await hotEntry();
    // One second before expiry; ln(1e-9) * 100 ms is about -2 s, so XFetch picks this read.
    clock.now += 59_000;
    clock.random = 1e-9;
    const held = db.hold();
    expect(await get([1], slowLoad)).toEqual([category(1, 'cached')]);
    await held.started;
    // A second read while the refresh runs joins it.
    expect(await get([1], slowLoad)).toEqual([category(1, 'cached')]);
    held.release();
    await settle();
    expect(refreshes()).toEqual([{ kind: 'Category', keys: ['Category#1'], reason: 'refresh' }]);
    expect(db.calls).toHaveLength(2);
  });

  it('reads back to back, before the first refresh has started its load, still refresh once', async () => {
    const { get, clock, slowLoad, refreshes } = await hotEntry();
    clock.now += 59_000;
    clock.random = 1e-9;
    const reads = await Promise.all([get([1], slowLoad), get([1], slowLoad), get([1], slowLoad)]);
    expect(reads).toEqual([[category(1, 'cached')], [category(1, 'cached')], [category(1, 'cached')]]);
    await settle();
    expect(refreshes()).toHaveLength(1);
  });

  it('far from expiry, even the same small sample refreshes nothing', async () => {
    const { get, clock, slowLoad, refreshes } = await hotEntry();
    clock.now += 1_000;
    clock.random = 1e-9;
    expect(await get([1], slowLoad)).toEqual([category(1, 'cached')]);
    await settle();
    expect(refreshes()).toEqual([]);
  });

  it('with beta 0, refreshes nothing before expiry', async () => {
    const { get, clock, slowLoad, refreshes } = await hotEntry({ freshness: { beta: 0 } });
    clock.now += 59_999;
    clock.random = 1e-9;
    expect(await get([1], slowLoad)).toEqual([category(1, 'cached')]);
    await settle();
    expect(refreshes()).toEqual([]);
  });

  it('reports a refresh that failed, and keeps serving the entry', async () => {
    const { get, clock, refreshErrors } = await hotEntry();
    clock.now += 59_000;
    clock.random = 1e-9;
    const error = new Error('db down');
    expect(await get([1], async () => Promise.reject(error))).toEqual([category(1, 'cached')]);
    await settle();
    expect(refreshErrors).toEqual([[error, 'Category']]);
    clock.random = 1;
    expect(await get([1], async () => Promise.reject(error))).toEqual([category(1, 'cached')]);
  });
});

describe('ReadThrough grace (stale while revalidate)', () => {
  async function cachedWithGrace() {
    const context = setup();
    const db = database({ 1: category(1, 'cached') });
    await context.get([1], db.load, gracedKind);
    db.rows.set(1, category(1, 'reloaded'));
    return { ...context, db };
  }

  it('past its TTL but within its grace, serves the stale value and runs one refresh', async () => {
    const { get, clock, db, refreshes } = await cachedWithGrace();
    clock.now += 60_000;
    const held = db.hold();
    expect(await get([1], db.load, gracedKind)).toEqual([category(1, 'cached')]);
    await held.started;
    clock.now += 29_999;
    expect(await get([1], db.load, gracedKind)).toEqual([category(1, 'cached')]);
    held.release();
    await settle();
    expect(refreshes()).toEqual([{ kind: 'Category', keys: ['Category#1'], reason: 'refresh' }]);
  });

  it('a refresh that began before an invalidation is not joined by a miss after it (the flight is abandoned)', async () => {
    const flights = new SingleFlight<unknown>();
    const context = setup({ flights });
    const db = database({ 1: category(1, 'cached') });
    await context.get([1], db.load, gracedKind);
    context.clock.now += 60_000;
    // A stale hit starts a refresh that reads the old row, held open.
    db.rows.set(1, category(1, 'old, read by the refresh'));
    const held = db.hold();
    expect(await context.get([1], db.load, gracedKind)).toEqual([category(1, 'cached')]);
    await held.started;
    // A write commits and invalidates, as the stack's invalidator does (dropLocal abandons flights).
    db.rows.set(1, category(1, 'written'));
    await context.invalidate(['Category:1']);
    flights.abandon(['Category:1']);
    // A miss after the write loads for itself, and sees the write.
    const after = context.get([1], db.load, gracedKind);
    held.release();
    expect(await after).toEqual([category(1, 'written')]);
    await settle();
    expect((await cached(context.l2, gracedKind, 1))?.value).toEqual(category(1, 'written'));
  });

  it('past its grace, is a miss: the request waits for the load', async () => {
    const { get, clock, db, loads } = await cachedWithGrace();
    clock.now += 90_000;
    const held = db.hold();
    let answered = false;
    const reading = get([1], db.load, gracedKind).then((values) => {
      answered = true;
      return values;
    });
    await held.started;
    await settle();
    expect(answered).toBe(false);
    held.release();
    expect(await reading).toEqual([category(1, 'reloaded')]);
    expect(loads.map((load) => load.reason)).toEqual(['miss', 'miss']);
  });
});

describe('ReadThrough background refresh refills the tiers', () => {
  async function staleEverywhere() {
    const context = setup();
    const db = database({ 1: category(1, 'cached') });
    await context.get([1], db.load, gracedKind);
    db.rows.set(1, category(1, 'refreshed'));
    context.clock.now += 60_000;
    return { ...context, db };
  }

  it('of an entry found in L3', async () => {
    const { l2, l3, get, db, refreshErrors } = await staleEverywhere();
    l2.clear();
    await get([1], db.load, gracedKind);
    await settle();
    expect(refreshErrors).toEqual([]);
    expect((await cached(l2, gracedKind, 1))?.value).toEqual(category(1, 'refreshed'));
    expect((await cached(l3, gracedKind, 1))?.value).toEqual(category(1, 'refreshed'));
  });

  // A read served from L2 never reached L3, so L3 had no fence from it: the refresh takes its own.
  it('of an entry found in L2', async () => {
    const { l2, l3, get, db, refreshErrors } = await staleEverywhere();
    await get([1], db.load, gracedKind);
    await settle();
    expect(refreshErrors).toEqual([]);
    expect((await cached(l2, gracedKind, 1))?.value).toEqual(category(1, 'refreshed'));
    expect((await cached(l3, gracedKind, 1))?.value).toEqual(category(1, 'refreshed'));
  });

  it('copies up, without a load, a newer entry another instance has already put in L3', async () => {
    const { l2, l3, get, db, clock, refreshes } = await staleEverywhere();
    // Another instance refreshed the entry in L3 a moment ago.
    const request = batch([1]);
    const newer: CacheEntry<CategoryRecord> = { value: category(1, 'refreshed elsewhere'), expiresAt: clock.now + 60_000, staleUntil: clock.now + 90_000, computeMs: 1, version: 0 };
    const writes = [{ key: request[0]!.key, tags: request[0]!.tags, entry: newer, bytes: encodeEntry(newer), ttlMs: 90_000 }];
    await l3.setMany(writes, await l3.fence(request[0]!.tags));
    expect(await get([1], db.load, gracedKind)).toEqual([category(1, 'cached')]);
    await settle();
    expect(refreshes()).toEqual([]);
    expect((await cached(l2, gracedKind, 1))?.value).toEqual(category(1, 'refreshed elsewhere'));
  });
});
