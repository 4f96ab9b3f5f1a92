import { LRUCache } from 'lru-cache';

export interface HeardGenerationsOptions {
  /** How many tags are remembered; a forgotten tag is treated as never heard (conservative). @default 100000 */
  max?: number;
  /**
   * How long after an instance first sees a tag generation it never heard of, over the bus, it
   * assumes that invalidation's message is not coming (its publisher died, or it was sent before
   * this instance subscribed, when its L2 was empty). A bound on pub/sub delivery. @default 2000
   */
  settleMs?: number;
  now?: () => number;
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
 * stamped with generation g of a tag when this instance had heard g before the request started
 * (its L2 fence then covers the rest), or first saw g at least `settleMs` before the request started
 * (no message on its way can still be making L2 stale). Otherwise it is not stored in L3 this time.
 */
export class HeardGenerations {
  private readonly known: LRUCache<string, Known>;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(options: HeardGenerationsOptions = {}) {
    this.known = new LRUCache<string, Known>({ max: options.max ?? 100_000 });
    this.settleMs = options.settleMs ?? 2000;
    this.now = options.now ?? Date.now;
  }

  /** Records generations whose invalidation this instance has applied to its L2. */
  heard(tags: readonly string[], generations: readonly string[]): void {
    const at = this.now();
    tags.forEach((tag, i) => {
      const generation = generations[i];
      if (generation !== undefined) this.known.set(tag, { generation, heard: true, since: at });
    });
  }

  /**
   * Whether data read from `startedAt` on is no older than the `current` generations (null: the tag
   * was not invalidated within its lifetime). Generations seen here for the first time are
   * remembered, so that a later request may use them once they have settled.
   */
  admits(current: ReadonlyMap<string, string | null>, startedAt: number): boolean {
    let admitted = true;
    for (const [tag, generation] of current) {
      if (generation === null) continue;
      const known = this.known.get(tag);
      if (known === undefined || known.generation !== generation) {
        this.known.set(tag, { generation, heard: false, since: this.now() });
        admitted = false;
      } else if (!known.heard && known.since + this.settleMs > startedAt) {
        admitted = false;
      }
    }
    return admitted;
  }
}

// Private:

interface Known {
  readonly generation: string;
  /** Applied to this L2 (own write, or a message), rather than only seen in L3. */
  readonly heard: boolean;
  /** When it was heard or first seen. */
  readonly since: number;
}
