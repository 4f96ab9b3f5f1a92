import { createHash } from 'node:crypto';
import { Packr } from 'msgpackr';
import { z } from 'zod';
import { CacheEntryCorruptError } from '../errors.ts';
import type { CacheEntry, CachedKind } from './entry.ts';

/**
 * Serialises entries for the shared tier (and to size them for L2), and checks what comes back.
 *
 * MessagePack, as an array [format, expiresAt, staleUntil, computeMs, version, value]: compact, fast,
 * and Dates survive the round trip. Records extension is off, so no state is shared between writer and
 * reader; another process, or another version, can always decode what this one wrote.
 */
export const ENTRY_FORMAT = 2;

export function encodeEntry<V>(entry: CacheEntry<V>): Buffer {
  return packr.pack([ENTRY_FORMAT, entry.expiresAt, entry.staleUntil, entry.computeMs, entry.version, entry.value]);
}

/**
 * Decodes and validates bytes read from a shared tier. Anything that is not an entry of this format
 * holding a value of `kind`'s shape (truncated, foreign, from an older deploy) is an error the
 * caller treats as a miss: it never reaches a resolver and never crashes the request.
 */
export function decodeEntry<V>(key: string, bytes: Buffer, kind: CachedKind<V>): CacheEntry<V> | CacheEntryCorruptError {
  let decoded: unknown;
  try {
    decoded = packr.unpack(bytes);
  } catch (error) {
    return new CacheEntryCorruptError(key, 'not MessagePack', { cause: error });
  }
  return entryFrom(key, decoded, kind);
}

/** Checks an already unpacked entry array (the shared tier unpacks its own envelope first). */
export function entryFrom<V>(key: string, decoded: unknown, kind: CachedKind<V>): CacheEntry<V> | CacheEntryCorruptError {
  if (!Array.isArray(decoded) || decoded.length !== 6 || decoded[0] !== ENTRY_FORMAT) {
    return new CacheEntryCorruptError(key, `not an entry of format ${ENTRY_FORMAT}`);
  }
  const [, expiresAt, staleUntil, computeMs, version, value] = decoded as [number, unknown, unknown, unknown, unknown, unknown];
  if (!isTime(expiresAt) || !isTime(staleUntil) || !isTime(computeMs) || !Number.isSafeInteger(version)) {
    return new CacheEntryCorruptError(key, 'expiry, compute time or version is not a number');
  }
  const times = { expiresAt, staleUntil, computeMs, version: version as number };
  if (value === null) return { value: null, ...times };
  const parsed = kind.shape.safeParse(value);
  if (!parsed.success) {
    return new CacheEntryCorruptError(key, `value is not a ${kind.name}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return { value: parsed.data, ...times };
}

/**
 * A short, deterministic fingerprint of a value shape and of this entry format. Any change to
 * either (a field added, renamed or retyped) changes it, and with it every key of that kind.
 */
export function shapeVersion(shape: z.ZodType): string {
  const schema = z.toJSONSchema(shape, {
    // Dates are not JSON; name them so that a string field turning into a Date still changes the hash.
    unrepresentable: 'any',
    override: (ctx) => {
      if ((ctx.zodSchema as { _zod: { def: { type: string } } })._zod.def.type === 'date') ctx.jsonSchema.format = 'js-date';
    },
  });
  return createHash('sha256')
    .update(`${ENTRY_FORMAT}:${JSON.stringify(schema)}`)
    .digest('hex')
    .slice(0, 8);
}

/** The MessagePack codec of every tier: records extension off (see the file comment). */
export const packr = new Packr({ useRecords: false });

function isTime(n: unknown): n is number {
  return typeof n === 'number' && Number.isFinite(n) && n >= 0;
}
