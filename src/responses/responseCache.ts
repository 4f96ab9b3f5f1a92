import type { Logger } from 'pino';
import { encodeEntry } from '../cache/codec.ts';
import type { HeardGenerations } from '../cache/coherence/heardGenerations.ts';
import type { CacheEntry, CachedKind } from '../cache/entry.ts';
import type { CacheKeys } from '../cache/keys.ts';
import type { MemoryTier } from '../cache/tiers/memoryTier.ts';
import { fenceGenerations, type RedisTier } from '../cache/tiers/redisTier.ts';
import type { TierFence, TierWrite } from '../cache/tiers/tier.ts';
import type { CompleteResponse, StoredResponse } from './storedResponse.ts';

export interface ResponseCacheOptions {
  /** L2, when enabled. */
  memoryTier: MemoryTier | undefined;
  /** L3, when enabled. */
  sharedTier: RedisTier | undefined;
  heard: HeardGenerations;
  keys: CacheKeys;
  kind: CachedKind<StoredResponse>;
  /** How long L3 keeps an invalidated tag's generation (CacheAddresses.tagLifetimeMs). */
  tagLifetimeMs: (tag: string) => number;
  logger: Logger;
  now?: () => number;
}

/** Taken before a request executes: what its response will be stored under, if it is stored. */
export interface Execution {
  readonly memoryFence: TierFence | undefined;
}

/**
 * The response tier: whole responses in L2 and L3, keyed by request (and by viewer when private),
 * carrying the tags of everything their execution read, so that the tag invalidations of the write
 * path drop them like any data entry, on every instance.
 *
 * A lookup is a Map read in L2 (no promise), else one or two Redis round trips. A store is refused
 * where the data could be older than an invalidation: in L2 by the fence taken before execution,
 * in L3 by the tags' generations and what this instance has heard of them (HeardGenerations).
 */
export class ResponseCache {
  private readonly now: () => number;

  constructor(private readonly options: ResponseCacheOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The stored response for this request and viewer, fresh, or undefined. */
  lookup(requestHash: string, viewer: string): CompleteResponse | undefined | Promise<CompleteResponse | undefined> {
    const { memoryTier, sharedTier, keys, kind } = this.options;
    const sharedKey = keys.response(kind, requestHash);
    if (memoryTier) {
      const found = this.fresh(memoryTier.peek<StoredResponse>(sharedKey));
      if (found?.kind === 'response') return found;
      if (found?.kind === 'private') {
        const own = this.fresh(memoryTier.peek<StoredResponse>(keys.response(kind, requestHash, viewer)));
        if (own?.kind === 'response') return own;
      }
    }
    return sharedTier ? this.lookupShared(sharedTier, sharedKey, keys.response(kind, requestHash, viewer)) : undefined;
  }

  begin(): Execution {
    const { memoryTier } = this.options;
    return { memoryFence: memoryTier?.currentFence() };
  }

  /**
   * Stores a response computed since `execution` began, for `ttlSeconds`. A private one is stored
   * under the viewer's key, with a marker under the shared key that sends lookups there. L2 at once
   * (the next request on this instance hits); L3 after, which the caller need not wait for.
   */
  async store(requestHash: string, viewer: string, response: CompleteResponse, ttlSeconds: number, execution: Execution, scope: 'PUBLIC' | 'PRIVATE'): Promise<void> {
    const { memoryTier, sharedTier, keys, kind, heard, logger } = this.options;
    const ttlMs = this.lifetimeMs(ttlSeconds, response.tags);
    if (ttlMs <= 0) return;
    const expiresAt = response.storedAt + ttlMs;
    const entryOf = (value: StoredResponse): CacheEntry<StoredResponse> => ({ value, expiresAt, staleUntil: expiresAt, computeMs: 0, version: 0 });
    const writeOf = (key: string, value: StoredResponse): TierWrite => {
      const entry = entryOf(value);
      return { key, tags: response.tags, entry, bytes: encodeEntry(entry), ttlMs };
    };
    const writes =
      scope === 'PUBLIC'
        ? [writeOf(keys.response(kind, requestHash), response)]
        : [writeOf(keys.response(kind, requestHash, viewer), response), writeOf(keys.response(kind, requestHash), { kind: 'private', tags: response.tags })];
    if (memoryTier && execution.memoryFence) await memoryTier.setMany(writes, execution.memoryFence);
    if (!sharedTier) return;
    const fence = await sharedTier.fence(response.tags);
    const generations = fenceGenerations(fence);
    if (generations === undefined) return;
    // After reading the generations, never before: an invalidation applied here while they were
    // read has its generation among them, heard, and its data may be newer than this response's.
    if (memoryTier && execution.memoryFence && memoryTier.invalidatedSince(response.tags, execution.memoryFence)) return;
    if (!heard.admits(generations)) {
      logger.debug({ tags: response.tags.length }, 'response not stored in L3: a generation of its tags was never applied to this L2');
      return;
    }
    await sharedTier.setMany(writes, fence);
  }

  private async lookupShared(sharedTier: RedisTier, sharedKey: string, viewerKey: string): Promise<CompleteResponse | undefined> {
    const { memoryTier, kind } = this.options;
    // Taken before the read: a copy into L2 of an entry invalidated meanwhile is refused.
    const memoryFence = memoryTier?.currentFence();
    const { entries } = await sharedTier.getCarryingTags([sharedKey, viewerKey], kind, (value) => value.tags);
    const [sharedEntry, ownEntry] = entries as [CacheEntry<StoredResponse> | undefined, CacheEntry<StoredResponse> | undefined];
    const shared = this.fresh(sharedEntry);
    const own = this.fresh(ownEntry);
    let hit: CompleteResponse;
    let copies: Array<[string, CacheEntry<StoredResponse>]>;
    if (shared?.kind === 'response') {
      hit = shared;
      copies = [[sharedKey, sharedEntry as CacheEntry<StoredResponse>]];
    } else if (shared?.kind === 'private' && own?.kind === 'response') {
      hit = own;
      copies = [[sharedKey, sharedEntry as CacheEntry<StoredResponse>], [viewerKey, ownEntry as CacheEntry<StoredResponse>]];
    } else {
      return undefined;
    }
    if (memoryTier && memoryFence) {
      const writes = copies.map(([key, entry]) => ({ key, tags: hit.tags, entry, bytes: encodeEntry(entry), ttlMs: Math.max(1, entry.expiresAt - this.now()) }));
      await memoryTier.setMany(writes, memoryFence);
    }
    return hit;
  }

  /**
   * A response lives its max-age, but in no case as long as its tags' generations are kept (less a
   * margin for clocks): a generation that expired while the response still lived would make an
   * invalidated response stamped before it valid again. Data entries never outlive their tags by
   * construction; a response may (Product's type says 300 s, a Product tag is kept 100 s).
   */
  private lifetimeMs(ttlSeconds: number, tags: readonly string[]): number {
    let ms = ttlSeconds * 1000;
    for (const tag of tags) ms = Math.min(ms, this.options.tagLifetimeMs(tag) - CLOCK_MARGIN_MS);
    return ms;
  }

  /** The value of an entry still within its TTL (responses are never served stale). */
  private fresh(entry: CacheEntry<StoredResponse> | undefined): StoredResponse | undefined {
    return entry !== undefined && entry.value !== null && entry.expiresAt > this.now() ? entry.value : undefined;
  }
}

// Private:

/** Instances' clocks and Redis's may disagree by this much. */
const CLOCK_MARGIN_MS = 60_000;
