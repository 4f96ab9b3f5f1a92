import { LRUCache } from 'lru-cache';
import type { BusMessage } from './busMessage.ts';

export interface OriginSequencesOptions {
  /** How many origins are remembered; a forgotten origin counts as new. @default 10000 */
  max?: number;
}

/**
 * Which invalidations of other instances were never heard, told by the numbers they carry (the
 * bus's lost-message detection; what it does about a loss is InvalidationBus's).
 *
 * Each instance numbers its invalidations 1, 2, 3..., an invalidation carries its number and a
 * heartbeat the last number used. A number skipped means an invalidation never heard. A lost
 * heartbeat costs nothing (it numbers nothing); its absence is the deadline's business.
 *
 * An origin is an instance id with a random id per bus, so a restart under the same instance id is
 * a new origin, numbered from the start: its first message is no loss. An origin first heard of
 * after it used numbers, once the bus hears, counts those as lost (it had time to be heard; or it
 * was forgotten among 10,000 origins). A message that arrives after a later one of its origin
 * (reordered) is applied, and its loss is not counted twice.
 *
 * What no number can show until the origin speaks again: its invalidations lost while it cannot
 * publish at all (its own side of a partition, a hung connection) or after which it stopped for
 * good. So an origin silent for longer than the bus's deadline is forgotten, and the bus treats
 * that as a loss ({@link forgetSilent}); if it comes back, its numbers are new, and counted again.
 */
export class OriginSequences {
  /** The highest number heard from each origin, and when it was last heard (receiver's clock); a forgotten origin counts as new. */
  private readonly lastHeard: LRUCache<string, { seq: number; at: number }>;

  constructor(options: OriginSequencesOptions = {}) {
    this.lastHeard = new LRUCache<string, { seq: number; at: number }>({ max: options.max ?? 10_000 });
  }

  /**
   * Records a message of another origin. Returns how many of that origin's invalidations it shows
   * were never heard: numbered after the highest heard so far and before this one. 0 for none, and
   * for a message that arrives after a later one (its number was counted when skipped).
   */
  heard(message: Pick<BusMessage, 'origin' | 'boot' | 'seq' | 'tags'>, now = 0): number {
    const { origin, boot, seq, tags } = message;
    const key = `${boot} ${origin}`;
    const last = this.lastHeard.get(key)?.seq ?? 0;
    this.lastHeard.set(key, { seq: Math.max(last, seq), at: now });
    // An invalidation carries its own number, a heartbeat the last one used.
    return Math.max(0, seq - (tags.length > 0 ? 1 : 0) - last);
  }

  /** Forgets every origin not heard since `cutoff` (the clock `heard` was given); returns how many. */
  forgetSilent(cutoff: number): number {
    let forgotten = 0;
    for (const [key, { at }] of this.lastHeard.entries()) {
      if (at >= cutoff) continue;
      this.lastHeard.delete(key);
      forgotten += 1;
    }
    return forgotten;
  }
}
