import { LRUCache } from 'lru-cache';
import { isCreatedGeneration } from '../tags/tagGenerations.ts';

export interface HeardGenerationsOptions {
  /** How many tags are remembered; a forgotten tag is treated as never heard (conservative). @default 100000 */
  max?: number;
}

/**
 * Which L3 tag generations this instance has applied to its L2, so that a whole response can be
 * stamped in L3 safely.
 *
 * A data entry is fenced before its load: its tags are known in advance. A whole response is not:
 * its tags are those of everything its execution read, known only at the end. Stamping it with the
 * generations current at the end is safe only if none of its data is older than those generations.
 * Data read from L3 or the database after a generation was set is not; data read from this
 * instance's L2 is not once the invalidation that set it has reached this L2. So a response may be
 * stamped with generation g of a tag only when this instance has applied g to its L2 (its own write,
 * or the bus message that carries g); the caller's L2 fence then refuses one applied while the
 * response ran. A generation never heard here (its message lost, sent before this instance started,
 * or sent while its L3 call timed out) keeps responses carrying that tag out of L3 until the tag's
 * generation expires: fewer L3 stores, never a stale one.
 *
 * A tag without a generation is never admitted: its key may have been evicted, or lost in a
 * failover, after an invalidation whose data this L2 may not have. RedisTier gives such a tag a new
 * generation when a fence finds none, marked as created (`~`, see isCreatedGeneration); a created
 * generation is admitted without being heard. No invalidation produced it, so no message will ever
 * carry it. Admitting it is safe as long as the bus is healthy: the invalidation that preceded the
 * lost key (if any) reached this L2 over the bus, and a bus that cannot hear pauses and clears L2
 * (InvalidationBus). The residual case: the tag key is evicted (or lost) within the bus delivery
 * delay of its invalidation, milliseconds after it was set; a fence here then creates a generation
 * before the message has arrived here, and a response computed from this L2's old data is admitted
 * and stamped with it. It stays servable until its TTL or the tag's next invalidation.
 *
 * An earlier version also admitted a generation first seen 2 s before a request started, assuming
 * any message for it would have arrived by then. It rested on a bound on pub/sub delivery that
 * nothing enforces, so it is gone; stale responses the randomised test found at the time came
 * mostly from a separate bug (the L2 fence checked before the generations were read, see
 * what is now LateFills.store), fixed since.
 */
export class HeardGenerations {
  private readonly known: LRUCache<string, string>;

  constructor(options: HeardGenerationsOptions = {}) {
    this.known = new LRUCache<string, string>({ max: options.max ?? 100_000 });
  }

  /** Records generations whose invalidation this instance has applied to its L2. */
  heard(tags: readonly string[], generations: readonly string[]): void {
    tags.forEach((tag, i) => {
      const generation = generations[i];
      if (generation !== undefined) this.known.set(tag, generation);
    });
  }

  /**
   * Whether a response may be stamped with the `current` generations of its tags: every one of them
   * created by a read, or applied to this instance's L2. A missing one (null or undefined: its key
   * was not there, or could not be read) refuses it.
   */
  admits(current: ReadonlyMap<string, string | null | undefined>): boolean {
    for (const [tag, generation] of current) {
      if (generation === null || generation === undefined) return false;
      if (!isCreatedGeneration(generation) && this.known.get(tag) !== generation) return false;
    }
    return true;
  }
}
