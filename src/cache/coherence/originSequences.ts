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
 * (reordered) is applied, and its loss is not counted twice. What no number can show: the last
 * invalidations of an instance that stops for good before its next heartbeat.
 */
export class OriginSequences {
  /** The highest number heard from each origin; a forgotten origin counts as new. */
  private readonly lastHeard: LRUCache<string, number>;

  constructor(options: OriginSequencesOptions = {}) {
    this.lastHeard = new LRUCache<string, number>({ max: options.max ?? 10_000 });
  }

  /**
   * Records a message of another origin. Returns how many of that origin's invalidations it shows
   * were never heard: numbered after the highest heard so far and before this one. 0 for none, and
   * for a message that arrives after a later one (its number was counted when skipped).
   */
  heard(message: Pick<BusMessage, 'origin' | 'boot' | 'seq' | 'tags'>): number {
    const { origin, boot, seq, tags } = message;
    const key = `${boot} ${origin}`;
    const last = this.lastHeard.get(key) ?? 0;
    this.lastHeard.set(key, Math.max(last, seq));
    // An invalidation carries its own number, a heartbeat the last one used.
    return Math.max(0, seq - (tags.length > 0 ? 1 : 0) - last);
  }
}
