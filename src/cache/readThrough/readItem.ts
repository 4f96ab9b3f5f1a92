import { encodeEntry } from '../codec.ts';
import type { CacheEntry } from '../entry.ts';
import type { CacheTier, TierFence, TierRead, TierWrite } from '../tiers/tier.ts';

/** One thing to resolve, with the key it is cached under and the tags its entry carries. */
export interface CacheItem<R> {
  readonly item: R;
  readonly key: string;
  readonly tags: readonly string[];
}

/** A {@link CacheItem} on its way through the read path: each step fills in what it learnt. */
export interface ReadItem<R, V> extends CacheItem<R> {
  /** Set once a tier or a load has answered it: `null` means "no such row". */
  answer?: { readonly value: V | null };
  /** Served early (XFetch) or stale (grace): refreshed behind the response. The served copy's expiry. */
  refresh?: { readonly servedExpiry: number };
}

/** The tiers below a request, named by role. L1 is the request's own DataLoaders, above these. */
export interface Tiers {
  /** L2: this process's memory. */
  readonly local?: CacheTier;
  /** L3: Redis, shared by every instance. */
  readonly shared?: CacheTier;
}

/** Each tier's fence, taken as the tier was read and before anything was loaded: fills are made under them. */
export interface Fences {
  local?: TierFence;
  shared?: TierFence;
}

/** Loads the values of `missing` from the database, in the same order (`null`: no such row). */
export type Load<R, V> = (missing: R[]) => Promise<(V | null)[]>;

export function unanswered<R, V>(items: readonly ReadItem<R, V>[]): ReadItem<R, V>[] {
  return items.filter((item) => item.answer === undefined);
}

export function tierRead(item: CacheItem<unknown>): TierRead {
  return { key: item.key, tags: item.tags };
}

/** The write that stores `entry` for `item`: its encoded bytes are made once and shared by every tier. */
export function tierWrite(item: { readonly key: string; readonly tags: readonly string[] }, entry: CacheEntry<unknown>, now: number): TierWrite {
  return { key: item.key, tags: item.tags, entry, bytes: encodeEntry(entry), ttlMs: entry.staleUntil - now };
}

/** Stores `writes` in every tier of `tiers` that is present, each under its own fence. */
export async function fillTiers(tiers: Tiers, writes: readonly TierWrite[], fences: Fences): Promise<void> {
  if (writes.length === 0) return;
  await Promise.all([tiers.local && fences.local ? tiers.local.setMany(writes, fences.local) : undefined, tiers.shared && fences.shared ? tiers.shared.setMany(writes, fences.shared) : undefined]);
}
