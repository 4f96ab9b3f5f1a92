import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from '../../../src/cache/codec.ts';
import type { CacheEntry, CachedKind } from '../../../src/cache/entry.ts';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import { categoryShape, idListShape, productShape, reviewShape, userShape } from '../../../src/catalog/records.ts';
import { storedResponseShape } from '../../../src/responses/storedResponse.ts';

/**
 * How MemoryTier's size constants were measured, and the check that they still hold: for each
 * cached kind, N entries are encoded, decoded from a larger buffer as L3 hands them over, and stored
 * with their key and tags in a tier too large to evict. After a full GC, the process's growth (heap
 * and array buffers) per entry must not exceed what the tier counts per entry. Each kind's figures
 * are printed: the heap of a decoded entry per encoded byte (the factor), and held / counted.
 */

const ENTRIES = 10_000;
/** Measurement noise over a whole run: GC timing, code compiled while it runs. */
const SLACK = 256 * 1024;

const collectGarbage = exposedGc();
const keys = new CacheKeys('shop:');
const epoch = Date.UTC(2026, 0, 1);

interface Calibrated<V> {
  readonly kind: CachedKind<V>;
  readonly value: (i: number) => V | null;
  readonly tags: (i: number) => string[];
  readonly key?: (i: number) => string;
}

const responseKind = kindOf('Response', storedResponseShape);
const responseKey = (i: number) => keys.response(responseKind, `${'h'.repeat(40)}${i}`);
const fourteenTags = (i: number) => Array.from({ length: 14 }, (_, k) => `Product:${i * 14 + k}`);

const cases: Record<string, Calibrated<unknown>> = {
  'absent, no tags': { kind: kindOf('Category', categoryShape), value: () => null, tags: () => [] },
  'absent, 1 unique tag': { kind: kindOf('Category', categoryShape), value: () => null, tags: (i) => [`Category:${i}`] },
  'absent, 4 unique tags': { kind: kindOf('Category', categoryShape), value: () => null, tags: (i) => [`A:${i}`, `B:${i}`, `C:${i}`, `D:${i}`] },
  Category: { kind: kindOf('Category', categoryShape), value: (i) => ({ id: i + 1, name: `Home ${i}`, slug: `home-${i}` }), tags: (i) => [`Category:${i}`, 'Category'] },
  Product: { kind: kindOf('Product', productShape), value: product, tags: (i) => [`Product:${i}`, 'Product'] },
  Review: { kind: kindOf('Review', reviewShape), value: review, tags: (i) => [`Review:${i}`, 'Review'] },
  User: { kind: kindOf('User', userShape), value: (i) => ({ id: i + 1, name: 'Grace Hopper', email: `user${i}@example.com`, createdAt: new Date(epoch + i) }), tags: (i) => [`User:${i}`, 'User'] },
  '20 ids of 5 digits': { kind: kindOf('Product.reviews', idListShape), value: (i) => Array.from({ length: 20 }, (_, k) => 10_000 + i * 20 + k), tags: (i) => [`Product:${i}:reviews`, 'Review'] },
  '100 ids below 128': { kind: kindOf('Query.products', idListShape), value: (i) => Array.from({ length: 100 }, (_, k) => ((i + k) % 127) + 1), tags: (i) => [`Query.products:${i}`, 'Product'] },
  'response, 200 B body': { kind: responseKind, value: (i) => response(i, 200), tags: fourteenTags, key: responseKey },
  'response, 2 KiB body': { kind: responseKind, value: (i) => response(i, 2000), tags: fourteenTags, key: responseKey },
  'private marker': { kind: responseKind, value: (i) => ({ kind: 'private', tags: fourteenTags(i) }), tags: fourteenTags, key: responseKey },
};

describe('MemoryTier counts at least what each kind of entry holds', () => {
  it.each(Object.entries(cases))('%s', async (label, calibrated) => {
    // The factor: the heap one decoded entry takes (its buffers aside) per encoded byte.
    const decoded = measure(() => {
      const kept: unknown[] = [];
      let encodedBytes = 0;
      for (let i = 0; i < ENTRIES; i++) {
        const { entry, bytes } = fromL3(calibrated, i);
        kept.push(entry);
        const body = (entry.value as { body?: unknown } | null)?.body;
        encodedBytes += bytes.length - (body instanceof Uint8Array ? body.byteLength : 0);
      }
      return { kept, encodedBytes };
    });
    const perEncodedByte = (decoded.heap - ENTRIES * 8) / decoded.result.encodedBytes;
    decoded.result.kept.length = 0;

    const tier = new MemoryTier({ maxBytes: 2 ** 40 });
    const stored = measure(() => {
      for (let i = 0; i < ENTRIES; i++) {
        const key = calibrated.key?.(i) ?? keys.entity(calibrated.kind, i + 1);
        const { entry } = fromL3(calibrated, i);
        // As ReadThrough copies an L3 hit up: the entry re-encoded for the tiers above.
        void tier.setMany([{ key, tags: calibrated.tags(i), entry, bytes: encodeEntry(entry), ttlMs: 60_000 }], tier.currentFence());
      }
    });
    const held = stored.heap + stored.arrayBuffers;

    console.info(
      `${label}: decoded heap per encoded byte ${perEncodedByte.toFixed(2)}; held ${Math.round(held / ENTRIES)} B per entry, ` +
        `counted ${Math.round(tier.sizeBytes / ENTRIES)}, held/counted ${(held / tier.sizeBytes).toFixed(2)}`,
    );
    expect(held).toBeLessThanOrEqual(tier.sizeBytes + SLACK);
  });
});

// Private:

function kindOf(name: string, shape: CachedKind<unknown>['shape']): CachedKind<unknown> {
  return { name, shape, shapeVersion: 'abcd1234', ttlSeconds: 60, absentTtlSeconds: 5, graceSeconds: 0 };
}

/** Entry `i`, encoded, then decoded from the middle of a larger buffer, as L3 reads it. */
function fromL3(calibrated: Calibrated<unknown>, i: number): { entry: CacheEntry<unknown>; bytes: Buffer } {
  const original: CacheEntry<unknown> = {
    value: calibrated.value(i),
    expiresAt: Date.now() + 60_000 + i,
    staleUntil: Date.now() + 90_000 + i,
    computeMs: 1.25 + i / 7,
    version: i % 5,
  };
  const bytes = Buffer.from(encodeEntry(original));
  const reply = Buffer.concat([PADDING, bytes, PADDING]);
  const entry = decodeEntry('k', reply.subarray(PADDING.length, PADDING.length + bytes.length), calibrated.kind);
  if (entry instanceof Error) throw entry;
  return { entry, bytes };
}

const PADDING = Buffer.alloc(100);

function product(i: number) {
  const at = new Date(epoch + i * 1000);
  return {
    id: i + 1,
    sku: `SKU-${String(i).padStart(7, '0')}`,
    name: `Sturdy Lamp ${i}`,
    description: `The sturdy lamp number ${i}.`,
    priceCents: 500 + ((i * 7919) % 49_500),
    stock: (i * 31) % 200,
    categoryId: (i % 50) + 1,
    viewCount: i % 1000,
    version: 1,
    createdAt: at,
    updatedAt: at,
  };
}

function review(i: number) {
  return { id: i + 1, productId: (i % 100_000) + 1, authorId: (i % 500) + 1, rating: (i % 5) + 1, body: 'Better than expected.', createdAt: new Date(epoch + i * 500) };
}

function response(i: number, bodyBytes: number) {
  const body = Buffer.from(JSON.stringify({ data: { text: 'y'.repeat(bodyBytes), i } }));
  const headers = { 'content-type': 'application/graphql-response+json; charset=utf-8', 'cache-control': 'max-age=60, public', etag: `"${'e'.repeat(27)}"` };
  return { kind: 'response', body, headers, storedAt: Date.now() + i, tags: fourteenTags(i) };
}

/** What `run` left reachable: the growth of the heap and of array buffers across it, after full GCs. */
function measure<T>(run: () => T): { result: T; heap: number; arrayBuffers: number } {
  const before = settled();
  const result = run();
  const after = settled();
  return { result, heap: after.heapUsed - before.heapUsed, arrayBuffers: after.arrayBuffers - before.arrayBuffers };
}

function settled(): { heapUsed: number; arrayBuffers: number } {
  collectGarbage();
  collectGarbage();
  const { heapUsed, arrayBuffers } = process.memoryUsage();
  return { heapUsed, arrayBuffers };
}

/** `gc`, exposed at run time (as jest's leak detector does) when the worker was started without --expose-gc. */
function exposedGc(): () => void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) return gc;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
