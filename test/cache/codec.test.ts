import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { decodeEntry, encodeEntry, ENTRY_FORMAT, shapeVersion } from '../../src/cache/codec.ts';
import { TOMBSTONE_VERSION, type CacheEntry, type CachedKind } from '../../src/cache/entry.ts';
import { productShape, type ProductRecord } from '../../src/catalog/records.ts';
import { CacheEntryCorruptError } from '../../src/errors.ts';
import { productKind } from '../support/testKinds.ts';

const kind: CachedKind<ProductRecord> = { ...productKind, graceSeconds: 30 };
const product: ProductRecord = {
  id: 7,
  sku: 'SKU-0000007',
  name: 'Lamp',
  description: 'A lamp.',
  priceCents: 1999,
  stock: 3,
  categoryId: 2,
  viewCount: 0,
  version: 4,
  createdAt: new Date('2026-01-01T00:00:00.000Z'),
  updatedAt: new Date('2026-01-02T00:00:00.123Z'),
};

describe('entry codec', () => {
  const entry: CacheEntry<ProductRecord> = { value: product, expiresAt: 1_800_000_000_000, staleUntil: 1_800_000_030_000, computeMs: 2.5, version: 4 };

  it('round-trips a value, its expiry, grace, compute time and version, Dates included', () => {
    expect(decodeEntry('k', encodeEntry(entry), kind)).toEqual(entry);
  });

  it('round-trips an absent marker', () => {
    const absent = { value: null, expiresAt: 1, staleUntil: 1, computeMs: 0, version: 0 };
    expect(decodeEntry('k', encodeEntry(absent), kind)).toEqual(absent);
  });

  it('round-trips a tombstone, the highest version there is', () => {
    const tombstone = { value: null, expiresAt: 5_000, staleUntil: 5_000, computeMs: 0, version: TOMBSTONE_VERSION };
    expect(decodeEntry('k', encodeEntry(tombstone), kind)).toEqual(tombstone);
  });

  it('is compact: a product entry is smaller than its JSON', () => {
    expect(encodeEntry(entry).length).toBeLessThan(JSON.stringify(product).length);
  });

  it(`writes format ${ENTRY_FORMAT}: [format, expiresAt, staleUntil, computeMs, version, value]`, () => {
    expect(ENTRY_FORMAT).toBe(2);
    const fields = new Packr({ useRecords: false }).unpack(encodeEntry(entry)) as unknown[];
    expect(fields.slice(0, 5)).toEqual([ENTRY_FORMAT, entry.expiresAt, entry.staleUntil, entry.computeMs, entry.version]);
  });

  const raw = new Packr({ useRecords: false });
  const times = [1, 1, 0, 0];
  it.each([
    ['garbage bytes', Buffer.from([0xc1, 0xff, 0x00])],
    ['a plain string', Buffer.from('hello world')],
    ['another format version', raw.pack([ENTRY_FORMAT + 1, ...times, product])],
    ['an entry of format 1 (the previous deploy)', raw.pack([1, 1, 0, product])],
    ['a format 2 entry missing its version', raw.pack([ENTRY_FORMAT, 1, 1, 0, product])],
    ['a non-array', raw.pack({ value: product })],
    ['a negative expiry', raw.pack([ENTRY_FORMAT, -1, 1, 0, 0, product])],
    ['a negative grace end', raw.pack([ENTRY_FORMAT, 1, -1, 0, 0, product])],
    ['an infinite compute time', raw.pack([ENTRY_FORMAT, 1, 1, Number.POSITIVE_INFINITY, 0, product])],
    ['a fractional version', raw.pack([ENTRY_FORMAT, 1, 1, 0, 1.5, product])],
    ['a version that is a string', raw.pack([ENTRY_FORMAT, 1, 1, 0, '4', product])],
    ['a value of another shape', raw.pack([ENTRY_FORMAT, ...times, { id: 7, name: 'not a product' }])],
    ['a value with an extra field', raw.pack([ENTRY_FORMAT, ...times, { ...product, extra: 1 }])],
    ['a value with a wrong type', raw.pack([ENTRY_FORMAT, ...times, { ...product, priceCents: '12' }])],
  ])('reads %s as a corrupt entry, never a crash', (_, bytes) => {
    const decoded = decodeEntry('the-key', bytes, kind);
    expect(decoded).toBeInstanceOf(CacheEntryCorruptError);
    expect((decoded as CacheEntryCorruptError).code).toBe('CACHE_ENTRY_CORRUPT');
    expect((decoded as CacheEntryCorruptError).message).toContain('the-key');
  });
});

describe('shape version', () => {
  it('is deterministic: the same shape gives the same version in every process', () => {
    expect(shapeVersion(productShape)).toBe(shapeVersion(productShape.extend({})));
    expect(shapeVersion(productShape)).toMatch(/^[0-9a-f]{8}$/);
  });

  it.each([
    ['a field added', productShape.extend({ weight: z.number() })],
    ['a field removed', productShape.omit({ stock: true })],
    ['a field retyped', productShape.extend({ stock: z.string() })],
    ['a Date turned string', productShape.extend({ createdAt: z.string() })],
    ['a field made optional', productShape.extend({ stock: z.number().int().optional() })],
  ])('changes with %s', (_, changed) => {
    expect(shapeVersion(changed)).not.toBe(shapeVersion(productShape));
  });
});
