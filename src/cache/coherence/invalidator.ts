import type { Logger } from 'pino';
import type { CacheTier, TierFence } from '../tiers/tier.ts';
import type { HeardGenerations } from './heardGenerations.ts';
import type { InvalidationBus } from './invalidationBus.ts';

/**
 * Where each tier stood right after one invalidation: a write-through fenced here is refused if any
 * other invalidation of its tags follows, even one that lands before the write-through starts. A
 * fence taken later would let a slower writer's older row in after a faster writer's invalidation.
 */
export interface InvalidationFences {
  /** L2's fence, taken in the same tick as its drop. */
  readonly memory?: TierFence;
  /** The generations this invalidation gave its tags in L3. */
  readonly generations?: ReadonlyMap<string, string>;
}

/** L3 as the invalidator needs it: invalidating a tag yields its new generation. */
export interface GenerationalTier extends CacheTier {
  invalidateTagsWithGenerations(tags: readonly string[]): Promise<string[] | undefined>;
}

export interface InvalidatorOptions {
  /** L2, when enabled. */
  memoryTier?: CacheTier;
  /** L3, when enabled. */
  sharedTier?: GenerationalTier;
  /** Where this instance records the L3 generations its L2 has applied (see HeardGenerations). */
  heard?: HeardGenerations;
  /**
   * Told every tag this instance invalidated, once its own tiers are done: the purge hook for a CDN
   * in front (responses carry their tags in `Surrogate-Key`). Not called for other instances' tags.
   */
  onInvalidated?: (tags: readonly string[]) => void;
  /** The other instances, when there is an L3 to carry the messages. */
  bus?: InvalidationBus;
  logger: Logger;
  /** How often an L3 invalidation that failed is tried again, in ms. @default 1000 */
  retryMs?: number;
}

/**
 * `invalidate(tags)`: every item carrying any of the tags becomes unservable, in every tier and on
 * every instance. A mutation awaits it before it answers, so the writing instance reads its own
 * writes at once; other instances hear of it over the bus.
 *
 * The order matters. L3 first: once it is done, no instance can copy the old entry from L3 into its
 * L2. Then this process's L2, then the message to the others (a copy they made from L3 just before
 * is either dropped by the message or refused by their L2 fence).
 */
export class Invalidator {
  /** Tags whose L3 invalidation failed (Redis down): retried until it succeeds. */
  private readonly unsent = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: InvalidatorOptions) {}

  /**
   * Resolves to fences taken at this invalidation itself (see {@link InvalidationFences}), for the
   * write-through that follows it.
   */
  async invalidate(tags: readonly string[]): Promise<InvalidationFences> {
    if (tags.length === 0) return {};
    const { memoryTier, sharedTier, bus } = this.options;
    const generations = sharedTier ? await sharedTier.invalidateTagsWithGenerations(tags) : undefined;
    if (sharedTier && generations === undefined) this.retryLater(tags);
    const dropped = memoryTier?.invalidateTags(tags);
    // In the same tick as the drop: the fence is the L2 state right after this invalidation.
    const memoryFence = memoryTier?.fence([]);
    await dropped;
    // Only now: a response read from this L2 before this point may hold the old data.
    if (generations) this.options.heard?.heard(tags, generations);
    await bus?.publish(tags, generations);
    this.options.onInvalidated?.(tags);
    return {
      ...(memoryFence ? { memory: await memoryFence } : {}),
      ...(generations ? { generations: new Map(tags.map((tag, i) => [tag, generations[i] as string])) } : {}),
    };
  }

  stop(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private retryLater(tags: readonly string[]): void {
    for (const tag of tags) this.unsent.add(tag);
    this.options.logger.warn({ tags }, 'L3 invalidation failed; retrying until Redis answers');
    if (this.retryTimer) return;
    const retry = async () => {
      const pending = [...this.unsent];
      const generations = await this.options.sharedTier?.invalidateTagsWithGenerations(pending);
      if (generations) {
        for (const tag of pending) this.unsent.delete(tag);
        // This L2 dropped these tags when they were first invalidated, before the new generations.
        this.options.heard?.heard(pending, generations);
        // Instances that reconnected cleared their L2; the message covers any that never left.
        await this.options.bus?.publish(pending, generations);
        this.options.logger.info({ tags: pending.length }, 'L3 invalidations sent after Redis came back');
      }
      this.retryTimer = this.unsent.size > 0 ? setTimeout(retry, this.options.retryMs ?? 1000).unref() : undefined;
    };
    this.retryTimer = setTimeout(retry, this.options.retryMs ?? 1000).unref();
  }
}
