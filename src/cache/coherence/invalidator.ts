import type { Logger } from 'pino';
import type { InvalidationFences } from '../readThrough/readThrough.ts';
import type { CacheTier, TierFence } from '../tiers/tier.ts';
import type { HeardGenerations } from './heardGenerations.ts';

export type { InvalidationFences };

/** The shared tier as the invalidator needs it: invalidating a tag yields its new generation. */
export interface GenerationalTier extends CacheTier {
  invalidateTagsWithGenerations(tags: readonly string[]): Promise<string[] | undefined>;
}

/** The other instances, as the invalidator tells them. */
export interface InvalidationPublisher {
  /** Resolves false when the message could not be sent (bounded in time; never throws). */
  publish(tags: readonly string[], generations?: readonly string[]): Promise<boolean>;
}

export interface InvalidatorOptions {
  /** The shared tier (L3), when enabled. */
  shared?: GenerationalTier;
  /**
   * Makes every local copy of anything carrying `tags` unservable, synchronously: the local tier's
   * entries, the loads in flight that may return old rows, the fences of fills in progress. Returns
   * the local tier's fence right after (undefined without a local tier).
   */
  dropLocal: (tags: readonly string[]) => TierFence | undefined;
  /** Where this instance records the shared generations its local tier has applied (see HeardGenerations). */
  heard: HeardGenerations;
  /** The other instances, when there is a shared tier to carry the messages. */
  bus?: InvalidationPublisher;
  /**
   * Told every tag this instance invalidated, once its own tiers are done: the purge hook for a CDN
   * in front. Not called for other instances' tags.
   */
  onInvalidated?: (tags: readonly string[]) => void;
  logger: Logger;
  /** How often a shared-tier invalidation that failed is tried again, in ms. @default 1000 */
  retryMs?: number;
}

/**
 * `invalidate(tags)`: every item carrying any of the tags becomes unservable, in every tier and on
 * every instance. A mutation awaits it before it answers, so the writing instance reads its own
 * writes at once; other instances hear of it over the bus.
 *
 * The order matters. The shared tier first: once it is done, no instance can copy the old entry from
 * it into its local tier. Then this process's local tier, then what this instance has heard, then
 * the message to the others (a copy they made from the shared tier just before is either dropped by
 * the message or refused by their local fence).
 */
export class Invalidator {
  /** Tags whose shared invalidation failed (Redis down or hung): retried until it succeeds. */
  private readonly unsent = new Set<string>();
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: InvalidatorOptions) {}

  /** Resolves to the fences this invalidation produced, for the write-through that follows it. */
  async invalidate(tags: readonly string[]): Promise<InvalidationFences> {
    if (tags.length === 0) return {};
    const { shared, bus } = this.options;
    const generations = shared ? await shared.invalidateTagsWithGenerations(tags) : undefined;
    if (shared && generations === undefined) this.retryLater(tags);
    const local = this.options.dropLocal(tags);
    // Only now: a response read from the local tier before this point may hold the old data.
    if (generations) this.options.heard.heard(tags, generations);
    await bus?.publish(tags, generations);
    this.options.onInvalidated?.(tags);
    return {
      ...(local ? { local } : {}),
      ...(generations ? { generations: new Map(tags.map((tag, i) => [tag, generations[i] as string])) } : {}),
    };
  }

  /** Stops retrying; what is still unsent stays unsent (its entries expire with their TTL). */
  close(): void {
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  private retryLater(tags: readonly string[]): void {
    for (const tag of tags) this.unsent.add(tag);
    this.options.logger.warn({ tags }, 'shared-tier invalidation failed; retrying until Redis answers');
    if (this.retryTimer) return;
    const retry = () => attempt().catch((error: unknown) => this.options.logger.error({ err: error }, 'shared-tier invalidation retry failed'));
    const attempt = async () => {
      const pending = [...this.unsent];
      const generations = await this.options.shared?.invalidateTagsWithGenerations(pending);
      if (generations) {
        for (const tag of pending) this.unsent.delete(tag);
        // Again: since the first drop, a read here may have copied the old shared entry (still
        // valid until this retry landed) into the local tier, and our own message never comes back.
        this.options.dropLocal(pending);
        this.options.heard.heard(pending, generations);
        // Instances that reconnected cleared their local tier; the message covers any that never left.
        await this.options.bus?.publish(pending, generations);
        this.options.logger.info({ tags: pending.length }, 'shared-tier invalidations sent after Redis came back');
      }
      this.retryTimer = this.unsent.size > 0 ? setTimeout(retry, this.options.retryMs ?? 1000).unref() : undefined;
    };
    this.retryTimer = setTimeout(retry, this.options.retryMs ?? 1000).unref();
  }
}
