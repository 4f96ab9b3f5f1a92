import type { SingleFlight } from '../stampede/singleFlight.ts';
import type { MemoryTier } from '../tiers/memoryTier.ts';
import type { TierFence } from '../tiers/tier.ts';
import type { InvalidationLog } from './invalidationLog.ts';

export interface LocalCoherenceOptions {
  /** L2, when enabled. */
  readonly local?: MemoryTier;
  /** This process's invalidations (L2 records into it too). */
  readonly log: InvalidationLog;
  /** This process's loads in flight. */
  readonly flights: SingleFlight<unknown>;
}

/**
 * What this process holds of the cache, kept coherent: the local tier, the loads in flight, the log
 * that fences fills. It drops tags from all three at once, and says whether the local tier may be
 * used: only while it hears every invalidation (the bus) and the shared tier answers (its guard);
 * otherwise a write on another instance could leave it serving the old row.
 */
export class LocalCoherence {
  private hearing = true;
  private sharedUp = true;
  private trusted = true;

  constructor(private readonly options: LocalCoherenceOptions) {}

  /** Whether the local tier may be used now. */
  get isTrusted(): boolean {
    return this.trusted;
  }

  /** The bus hears every message (true), or may have lost one (false). */
  setHearing(hearing: boolean): void {
    this.hearing = hearing;
    this.reconsider();
  }

  /** The shared tier's guard changed state. */
  setSharedUp(up: boolean): void {
    this.sharedUp = up;
    this.reconsider();
  }

  /**
   * Drops `tags` from everything this process holds or is loading, synchronously. Returns the local
   * tier's fence right after (undefined without a local tier): see Invalidator.dropLocal.
   */
  drop(tags: readonly string[]): TierFence | undefined {
    const { local, log, flights } = this.options;
    flights.abandon(tags);
    if (!local) {
      log.record(tags);
      return undefined;
    }
    // Records the tags in the log too.
    void local.invalidateTags(tags);
    return local.currentFence();
  }

  private reconsider(): void {
    const trusted = this.hearing && this.sharedUp;
    if (trusted === this.trusted) return;
    this.trusted = trusted;
    const { local, log, flights } = this.options;
    // Either way, whatever is held or in flight may have missed an invalidation: pause and resume
    // clear the local tier and forget the log, which refuses every fill fenced before now.
    flights.abandonAll();
    if (!local) log.forgetAll();
    else if (trusted) local.resume();
    else local.pause();
  }
}
