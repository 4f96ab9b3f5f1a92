import type { CacheEntry } from '../entry.ts';
import type { TierWrite } from './tier.ts';

/**
 * What an entry of L2 costs in memory, and the copy of it that L2 keeps: L2 is bounded by bytes,
 * and those must be the bytes it really holds (see MemoryTier). Pure.
 */

/** The buffers found in a value: how many, and their bytes. */
export interface Buffers {
  readonly count: number;
  readonly bytes: number;
}

/**
 * The entry as L2 keeps it, and its buffers. A buffer that is a view into a larger one would keep
 * all of that alive: a body msgpackr decoded from a Redis reply is a view into the socket read
 * (up to 64 KiB, shared with other replies), a small `Buffer.from` one into an 8 KiB pool slab. Each
 * such buffer is copied into one of its own size.
 *
 * Only the value itself and its own fields are looked at (a response's `body`), never deeper: no
 * cached kind holds a buffer deeper, so a row costs one pass over its fields and an id list
 * nothing. A buffer nested deeper would be kept as it is, and counted by its encoded length only.
 */
export function keptEntry(entry: CacheEntry<unknown>): { entry: CacheEntry<unknown>; buffers: Buffers } {
  const value = entry.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return { entry, buffers: NO_BUFFERS };
  if (value instanceof Uint8Array) {
    const buffers = { count: 1, bytes: value.byteLength };
    return { entry: isView(value) ? { ...entry, value: exactCopy(value) } : entry, buffers };
  }
  const fields = value as Record<string, unknown>;
  let count = 0;
  let bytes = 0;
  let copies: Record<string, Uint8Array> | undefined;
  for (const name in fields) {
    const field = fields[name];
    if (!(field instanceof Uint8Array)) continue;
    count += 1;
    bytes += field.byteLength;
    if (isView(field)) (copies ??= {})[name] = exactCopy(field);
  }
  if (copies === undefined) return { entry, buffers: { count, bytes } };
  const copied = { ...fields, ...copies };
  // A frozen value (shared by every request) stays frozen.
  return { entry: { ...entry, value: Object.isFrozen(value) ? Object.freeze(copied) : copied }, buffers: { count, bytes } };
}

function isView(buffer: Uint8Array): boolean {
  return buffer.buffer.byteLength > buffer.byteLength;
}

/** A copy in memory of its own size: `new Uint8Array`, never `Buffer.from`, which may take a pool slab. */
function exactCopy(buffer: Uint8Array): Uint8Array {
  const copy = new Uint8Array(buffer.byteLength);
  copy.set(buffer);
  // A Buffer stays a Buffer (its methods may be used on the way out), over the copy's memory.
  return Buffer.isBuffer(buffer) ? Buffer.from(copy.buffer, 0, copy.byteLength) : copy;
}

/**
 * What keeping `write` costs, in bytes: an estimate calibrated to be at or above what V8 really
 * uses for it (heap and array buffers, measured after a full GC: see the constants for each part).
 * - the decoded value and its entry: the encoded length, less its buffers, times
 *   {@link DECODED_BYTES_PER_ENCODED_BYTE}; an array's elements count one encoded byte more each;
 * - its buffers: their exact length (each is copied to that size), plus {@link BUFFER_OBJECT_BYTES} each;
 * - its key, and each of its tags: the string ({@link stringBytes}), plus {@link TAG_INDEX_BYTES} per tag;
 * - {@link ENTRY_BYTES}: lru-cache's slots and the record that holds the rest.
 */
export function heldBytes(write: TierWrite, buffers: Buffers): number {
  const value = write.entry.value;
  const encoded = Math.max(0, write.bytes.length - buffers.bytes) + (Array.isArray(value) ? value.length : 0);
  let bytes = ENTRY_BYTES + encoded * DECODED_BYTES_PER_ENCODED_BYTE + buffers.bytes + buffers.count * BUFFER_OBJECT_BYTES + stringBytes(write.key);
  for (const tag of write.tags) bytes += stringBytes(tag) + TAG_INDEX_BYTES;
  return bytes;
}

/** A V8 string: a 16-byte header, then one byte per character, or two once any is beyond Latin-1. */
function stringBytes(text: string): number {
  return 16 + (BEYOND_LATIN1.test(text) ? 2 : 1) * text.length;
}

const BEYOND_LATIN1 = /[^\u0000-\u00ff]/;

const NO_BUFFERS: Buffers = { count: 0, bytes: 0 };

// Measured on Node 20 (x64, no pointer compression) by test/cache/tiers/memoryTierCalibration.test.ts,
// which prints the figures and fails if any kind holds more than is counted: N entries of each
// cached kind, encoded, decoded from a larger buffer as L3 hands them over (codec's decodeEntry),
// stored with their key and tags; heapUsed + arrayBuffers growth after a full GC, per entry (the
// same at N = 10,000, 23,000 and 40,000).

/**
 * Heap per encoded byte of a decoded entry (value, entry object and its numbers), measured: Product
 * 3.9, Category 3.9 to 4.3, User 3.7, Review 3.4, a response less its body 3.7 to 3.9, a private
 * marker 4.2. These include the entry's fixed part, which {@link ENTRY_BYTES} covers as well, so 4
 * leaves every kind at or under what is counted (rows at 0.7 to 0.8 of it). The worst case is an id
 * list of ids below 128 (1 encoded byte each, an 8-byte slot decoded: 7.5 for 100 of them), which is
 * why an array's elements count one byte more each.
 */
const DECODED_BYTES_PER_ENCODED_BYTE = 4;
/** A Buffer over its own ArrayBuffer: 180 bytes of heap, plus the backing store's native record. */
const BUFFER_OBJECT_BYTES = 256;
/**
 * A tag carried by no other entry: its Set of keys, its slot in the index and in the entry's tag
 * array, 200 to 216 bytes measured, plus a margin. A tag shared by many entries costs them about 30
 * each: a shared tag is overcounted, so that a tag never is.
 */
const TAG_INDEX_BYTES = 240;
/** An absent marker with no tags held 219 to 261 bytes beyond its decoded entry and its key. */
const ENTRY_BYTES = 280;
