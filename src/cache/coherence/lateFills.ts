import type { MemoryTier } from '../tiers/memoryTier.ts';
import { fenceGenerations, type RedisTier } from '../tiers/redisTier.ts';
import type { TierFence, TierWrite } from '../tiers/tier.ts';
import type { HeardGenerations } from './heardGenerations.ts';
import type { InvalidationLog, LogFence } from './invalidationLog.ts';

/** Taken before a load whose tags are known only once it is done. */
export interface LateFillTicket {
  readonly log: LogFence;
  readonly local: TierFence | undefined;
}

/**
 * What became of a late fill: `stored` (in every tier present, or the local one with the shared tier
 * down), refused by a `fence` (a tag invalidated since the ticket), or refused by the shared tier
 * for an `unheard_generation` (one not yet applied here, or this instance not hearing every invalidation).
 */
export type LateFillOutcome = 'stored' | 'fence' | 'unheard_generation';

export interface LateFillsOptions {
  readonly local?: MemoryTier;
  readonly shared?: RedisTier;
  readonly log: InvalidationLog;
  readonly heard: HeardGenerations;
  /** Whether the local tier hears every invalidation now (see CacheStack.trusted). */
  readonly trusted: () => boolean;
}

/**
 * "May this fill be stored?" for fills whose tags are known only after their load: a whole response
 * (its tags are whatever its execution read) and the rows a list query brought along (which rows
 * is the query's answer). A data entry's tags are known before its load, so its tiers fence it then
 * (see tier.ts); these cannot be fenced that way, so they are admitted afterwards, by one rule:
 *
 * - locally, if none of their tags was invalidated here since the ticket was taken;
 * - in the shared tier, stamped with their tags' current generations, read after the load, only if
 *   every one of those generations has been applied to this instance's local tier (heard) and that
 *   application came before the ticket. Any invalidation that produced one of those generations then
 *   happened before the load began, so the data is no older than the stamps.
 */
export class LateFills {
  constructor(private readonly options: LateFillsOptions) {}

  /** Take before the load. */
  ticket(): LateFillTicket {
    return { log: this.options.log.fence(), local: this.options.local?.currentFence() };
  }

  /** Stores in the local tier (done when this resolves, before any shared round trip) and then in the shared tier. */
  async store(writes: readonly TierWrite[], ticket: LateFillTicket): Promise<LateFillOutcome> {
    const { local, shared, log, heard } = this.options;
    if (writes.length === 0) return 'stored';
    const tags = [...new Set(writes.flatMap((write) => write.tags))];
    // Asked for the outcome only: setMany applies the same fence to each write.
    const localRefused = local && ticket.local ? local.invalidatedSince(tags, ticket.local) : false;
    if (local && ticket.local) await local.setMany(writes, ticket.local);
    if (!shared) return localRefused ? 'fence' : 'stored';
    const fence = await shared.fence(tags);
    const generations = fenceGenerations(fence);
    if (generations === undefined) return localRefused ? 'fence' : 'stored';
    // After reading the generations, never before: an invalidation applied here while they were
    // read has its generation among them, heard, and its data may be newer than this fill's.
    if (log.invalidatedSince(tags, ticket.log)) return 'fence';
    if (!this.options.trusted() || !heard.admits(generations)) return 'unheard_generation';
    await shared.setMany(writes, fence);
    return 'stored';
  }
}
