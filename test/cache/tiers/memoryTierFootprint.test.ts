import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { encodeEntry } from '../../../src/cache/codec.ts';
import { HeardGenerations } from '../../../src/cache/coherence/heardGenerations.ts';
import type { CacheEntry, CachedKind } from '../../../src/cache/entry.ts';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { InvalidationLog } from '../../../src/cache/coherence/invalidationLog.ts';
import { LateFills } from '../../../src/cache/coherence/lateFills.ts';
import { ReadThrough } from '../../../src/cache/readThrough/readThrough.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import { RedisTier } from '../../../src/cache/tiers/redisTier.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import type { TierWrite } from '../../../src/cache/tiers/tier.ts';
import type { ProductRecord } from '../../../src/catalog/records.ts';
import { ResponseTier, type Exchange } from '../../../src/responses/responseTier.ts';
import { storedResponseShape, strongETag, type CompleteResponse, type StoredResponse } from '../../../src/responses/storedResponse.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { productKind as testProductKind } from '../../support/testKinds.ts';

/**
 * What L2 holds in memory, measured, against its bound: entries go through the real path (written to
 * Redis by another instance, read back and decoded, copied up into L2), then, after a full garbage
 * collection, the growth of the process's memory is compared with maxBytes. Each test fills L2
 * several times over, so evictions are part of what is measured.
 */

const MAX_BYTES = 4 * 1024 * 1024;
/**
 * What the process may hold beyond the bound without L2 being at fault: socket reads and decoder
 * buffers still referenced, msgpackr's and the Buffer pool's current slabs (array buffers); code
 * compiled and inline caches grown meanwhile (heap).
 */
const ARRAY_BUFFER_SLACK = 256 * 1024;
const SLACK = 512 * 1024;

const prefix = uniquePrefix();
const logger = pino({ level: 'silent' });
const clients = new RedisClients();
const collectGarbage = exposedGc();

afterAll(async () => {
  await deletePrefix(prefix);
  clients.disconnectAll();
});

describe('MemoryTier holds its bound in real memory', () => {
  it('response bodies copied up from L3, whose replies shared a socket read with another request’s', async () => {
    const redis = await clients.connect();
    const keys = new CacheKeys(`${prefix}copied:`);
    const shared = redisTier(redis, keys);
    const memoryTier = new MemoryTier({ maxBytes: MAX_BYTES });
    const writer = responseCache({ memoryTier: undefined, sharedTier: shared, keys });
    const reader = responseCache({ memoryTier, sharedTier: shared, keys });
    const count = 1500;
    await inBatches(count, (i) => writer.store(i));
    // Another request's read, issued in the same tick: its reply comes back in the same socket read.
    const neighbour = `${prefix}neighbour`;
    await redis.set(neighbour, Buffer.alloc(40 * 1024, 1), 'PX', 60_000);
    const lookUp = async (i: number) => {
      const [hit] = await Promise.all([reader.lookup(i), redis.getBuffer(neighbour)]);
      expect(hit).toBe(true);
    };

    for (let i = 0; i < 50; i++) await lookUp(i);
    await warmRequestMemo(redis, count);
    memoryTier.clear();
    const before = settledMemory();
    for (let i = 50; i < count; i++) await lookUp(i);
    const after = settledMemory();

    expectWithinBound('responses copied up from L3', before, after, memoryTier);
  });

  it('response bodies stored by this instance, made by Buffer.from (small ones come from the pool)', async () => {
    const redis = await clients.connect();
    const keys = new CacheKeys(`${prefix}stored:`);
    const memoryTier = new MemoryTier({ maxBytes: MAX_BYTES });
    // L2 alone: what L3 keeps beside (its record of the tag generations it keeps alive) is not L2's.
    const cache = responseCache({ memoryTier, sharedTier: undefined, keys });
    const count = 2000;
    const store = (i: number) => cache.store(i);

    await inBatches(50, store);
    await warmRequestMemo(redis, 50 + count);
    memoryTier.clear();
    const before = settledMemory();
    await inBatches(count, (i) => store(50 + i));
    const after = settledMemory();

    expectWithinBound('responses stored by this instance', before, after, memoryTier);
  });

  it('decoded rows copied up from L3 by the read path: the heap they take stays within the bound', async () => {
    const redis = await clients.connect();
    const keys = new CacheKeys(`${prefix}rows:`);
    const shared = redisTier(redis, keys);
    const memoryTier = new MemoryTier({ maxBytes: MAX_BYTES });
    const readThrough = new ReadThrough({ tiers: { local: memoryTier, shared }, leaseWaitMs: 1000, freshness: { beta: 0 } });
    const count = 10_000;
    const batch = 100;
    await inBatches(count / batch, async (b) => {
      const writes = Array.from({ length: batch }, (_, j) => productWrite(keys, b * batch + j + 1));
      await shared.setMany(writes, await shared.fence(writes.flatMap((w) => w.tags)));
    });
    const read = async (from: number) => {
      const ids = Array.from({ length: batch }, (_, j) => from + j);
      const request = ids.map((id) => ({ item: id, key: productKey(keys, id), tags: productTags(id) }));
      const rows = await readThrough.getMany(productKind, request, async () => {
        throw new Error('every row is in L3: nothing is loaded');
      });
      expect(rows[batch - 1]?.id).toBe(from + batch - 1);
    };

    for (let from = 1; from <= 1000; from += batch) await read(from);
    memoryTier.clear();
    const before = settledMemory();
    for (let from = 1001; from <= count; from += batch) await read(from);
    const after = settledMemory();

    expectWithinBound('product rows copied up from L3', before, after, memoryTier);
  });
});

// Private: the real path's parts, and measuring.

const responseKind: CachedKind<StoredResponse> = {
  name: 'Response',
  shape: storedResponseShape,
  shapeVersion: 'test',
  ttlSeconds: 0,
  absentTtlSeconds: 0,
  graceSeconds: 0,
};

const productKind: CachedKind<ProductRecord> = { ...testProductKind, ttlSeconds: 60 };

function redisTier(redis: Awaited<ReturnType<RedisClients['connect']>>, keys: CacheKeys): RedisTier {
  return new RedisTier({ redis, guard: new TierGuard({ tier: 'L3', logger }), keys, tagLifetimeMs: () => 10 * 60_000, logger });
}

/**
 * The response tier over these tiers, driven through its one entry point as the HTTP handler drives
 * it: `store(i)` executes request i (a miss, whose answer is stored), `lookup(i)` reads it back
 * (resolves true on a hit, which never executes).
 */
function responseCache(tiers: { memoryTier: MemoryTier | undefined; sharedTier: RedisTier | undefined; keys: CacheKeys }) {
  const log = tiers.memoryTier?.log ?? new InvalidationLog();
  const local = tiers.memoryTier;
  const shared = tiers.sharedTier;
  const stack = {
    ...(local ? { local } : {}),
    ...(shared ? { shared } : {}),
    lateFills: new LateFills({ ...(local ? { local } : {}), ...(shared ? { shared } : {}), log, heard: new HeardGenerations(), trusted: () => true }),
  };
  const tier = new ResponseTier({
    stack,
    keys: tiers.keys,
    kind: responseKind,
    tagLifetimeMs: () => 10 * 60_000,
    headers: { policies: new Map(), tagHeader: 'Cache-Tag' },
    maxStoredBytes: 1 << 20,
    logger,
  });
  const exchange = (i: number): Exchange => {
    const search = `?query=${encodeURIComponent('{ products { id name priceCents } }')}&variables=${encodeURIComponent(JSON.stringify({ page: i }))}`;
    const req = { method: 'GET', url: `/graphql${search}`, headers: { 'content-type': 'application/json' } } as unknown as IncomingMessage;
    const res = { getHeader: () => undefined, writeHead: () => res, end: () => res } as unknown as ServerResponse;
    return { req, res, search, text: undefined, parseBody: () => undefined, viewer: 'anonymous' };
  };
  return {
    store: (i: number) =>
      tier.serve(exchange(i), async () => {
        const stored = response(i);
        return { kind: 'cacheable', body: Buffer.from(stored.body).toString(), contentType: 'application/json', policy: { maxAge: 60, scope: 'PUBLIC' }, tags: stored.tags };
      }),
    async lookup(i: number): Promise<boolean> {
      let executed = false;
      await tier.serve(exchange(i), async () => {
        executed = true;
        return { kind: 'sent' };
      });
      return !executed;
    },
  };
}

/**
 * The response tier memoises each request's identity by its text (bounded on its own, at 8 MiB):
 * made before the measurement, so that what is measured is L2 alone. Through a tier with keys of its
 * own, where every request misses and nothing is stored.
 */
async function warmRequestMemo(redis: Awaited<ReturnType<RedisClients['connect']>>, count: number): Promise<void> {
  const keys = new CacheKeys(`${prefix}memo:`);
  const memo = responseCache({ memoryTier: undefined, sharedTier: redisTier(redis, keys), keys });
  await inBatches(count, (i) => memo.lookup(i));
}

/** A response of about 1 KiB: 12 products, with the tags and headers the response tier stores. */
function response(i: number): CompleteResponse {
  const products = Array.from({ length: 12 }, (_, k) => ({ id: String(i * 12 + k), name: `Sturdy Lamp ${i * 12 + k}`, priceCents: 500 + k * 7 }));
  const body = Buffer.from(JSON.stringify({ data: { products } }));
  const headers = { 'content-type': 'application/graphql-response+json; charset=utf-8', 'cache-control': 'max-age=60, public', etag: strongETag(body) };
  return { kind: 'response', body, headers, storedAt: Date.now(), tags: [...products.map((p) => `Product:${p.id}`), 'Product', 'Query.products'] };
}

function productKey(keys: CacheKeys, id: number): string {
  return keys.entity(productKind, id);
}

function productTags(id: number): string[] {
  return [`Product:${id}`, 'Product'];
}

function productWrite(keys: CacheKeys, id: number): TierWrite {
  const at = new Date(Date.UTC(2026, 0, 1) + id * 1000);
  const value: ProductRecord = {
    id,
    sku: `SKU-${String(id).padStart(7, '0')}`,
    name: `Sturdy Lamp ${id}`,
    description: `The sturdy lamp number ${id}.`,
    priceCents: 500 + ((id * 7919) % 49_500),
    stock: (id * 31) % 200,
    categoryId: ((id - 1) % 50) + 1,
    viewCount: id % 1000,
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
  const entry: CacheEntry<ProductRecord> = { value, expiresAt: Date.now() + 60_000, staleUntil: Date.now() + 60_000, computeMs: 2, version: 1 };
  return { key: productKey(keys, id), tags: productTags(id), entry, bytes: encodeEntry(entry), ttlMs: 60_000 };
}

/** Runs `task(0)` .. `task(count - 1)`, 50 at a time: what concurrent requests send together. */
async function inBatches(count: number, task: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += 50) {
    await Promise.all(Array.from({ length: Math.min(50, count - start) }, (_, j) => task(start + j)));
  }
}

interface Memory {
  readonly heapUsed: number;
  readonly arrayBuffers: number;
}

/** The process's memory once everything unreachable is collected. */
function settledMemory(): Memory {
  collectGarbage();
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

/**
 * What the process grew by stays within the bound: its array buffers, and everything (heap and
 * array buffers); and the tier was full (the test measured what it meant to).
 */
function expectWithinBound(what: string, before: Memory, after: Memory, tier: MemoryTier): void {
  const arrayBuffers = after.arrayBuffers - before.arrayBuffers;
  const heap = after.heapUsed - before.heapUsed;
  const kib = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;
  console.info(`${what}: bound ${kib(MAX_BYTES)}, counted ${kib(tier.sizeBytes)}; growth: array buffers ${kib(arrayBuffers)}, heap ${kib(heap)}, ` + `held/counted ${((arrayBuffers + heap) / tier.sizeBytes).toFixed(2)}`);
  expect(arrayBuffers).toBeLessThanOrEqual(MAX_BYTES + ARRAY_BUFFER_SLACK);
  expect(arrayBuffers + heap).toBeLessThanOrEqual(MAX_BYTES + SLACK);
  expect(tier.sizeBytes).toBeGreaterThan(MAX_BYTES * 0.9);
}

/** `gc`, exposed at run time (as jest's leak detector does) when the worker was started without --expose-gc. */
function exposedGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) return gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
