import { LRUCache } from 'lru-cache';

export interface InvalidationLogOptions {
  /**
   * How many recently invalidated tags are remembered. Older ones are forgotten conservatively: a
   * fence taken before a forgotten invalidation counts every tag as invalidated since.
   * @default 100000
   */
  rememberedTags?: number;
}

/** A reading of the log, taken before a value is loaded: what its fill is checked against. */
export interface LogFence {
  readonly sequence: number;
}

/**
 * This process's record of the tags invalidated here (by its own writes, or heard from other
 * instances), in order: a fence is a position in it, and a fill made under a fence is refused if
 * any of its tags was invalidated after that position, so a load that raced a write never caches
 * the old row. In-process caches (L2, the response tier's and list fills' local checks) share one
 * log, kept even when L2 is off.
 *
 * Bounded: only the last `rememberedTags` tags are remembered; a fence taken before a tag was
 * pushed out treats every tag as invalidated since (see {@link InvalidationLogOptions.rememberedTags}).
 */
export class InvalidationLog {
  /** Counts invalidations; a fence is a reading of it. */
  private sequence = 0;
  /** The sequence number of each recently invalidated tag. */
  private readonly invalidatedAt: LRUCache<string, number>;
  /** Tags not remembered count as invalidated at this sequence number. */
  private forgottenAt = 0;
  /** Every fence below this was taken before forgetAll(): refused, whatever its tags. */
  private refusedBefore = 0;

  constructor(options: InvalidationLogOptions = {}) {
    this.invalidatedAt = new LRUCache<string, number>({
      max: getValidRememberedTags(options),
      // Only a tag pushed out is forgotten; a tag invalidated again just gets its new number.
      noDisposeOnSet: true,
      dispose: (sequence, _tag, reason) => {
        if (reason === 'evict') this.forgottenAt = Math.max(this.forgottenAt, sequence);
      },
    });
  }

  /** Records that `tags` were invalidated now: fills fenced before now that carry one are refused. */
  record(tags: readonly string[]): void {
    this.sequence += 1;
    for (const tag of tags) this.invalidatedAt.set(tag, this.sequence);
  }

  /** The current position, for any tags: the log is one counter. */
  fence(): LogFence {
    return { sequence: this.sequence };
  }

  /** Whether any of `tags` was invalidated after `fence` was taken (or may have been: forgotten). */
  invalidatedSince(tags: readonly string[], fence: LogFence): boolean {
    if (fence.sequence < this.refusedBefore) return true;
    return tags.some((tag) => (this.invalidatedAt.get(tag) ?? this.forgottenAt) > fence.sequence);
  }

  /** Every fence taken before now is refused, whatever its tags (what was cached may have missed an invalidation). */
  forgetAll(): void {
    this.sequence += 1;
    this.refusedBefore = this.sequence;
    // Moot now: every fence that could be told apart by them is refused.
    this.invalidatedAt.clear();
  }
}

// Private:

function getValidRememberedTags(options: InvalidationLogOptions): number {
  const remembered = options.rememberedTags ?? 100_000;
  if (!Number.isSafeInteger(remembered) || remembered < 1) {
    throw new TypeError(`rememberedTags must be a positive whole number, got ${String(remembered)}`);
  }
  return remembered;
}
