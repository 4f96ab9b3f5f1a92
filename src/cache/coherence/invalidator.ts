import type { Logger } from 'pino';
import { inSpan, SPAN, traceInvalidatedTags } from '../../observability/tracing.ts';
import type { InvalidationFences } from '../readThrough/readThrough.ts';
import type { CacheTier, TierFence } from '../tiers/tier.ts';
import type { HeardGenerations } from './heardGenerations.ts';

export type { InvalidationFences };

/** The shared tier as the invalidator needs it: invalidating a tag yields its new generation. */
export interface GenerationalTier extends CacheTier {
  /** `probe`: try even while the tier is being skipped after a failure (see TierGuard.run). */
  invalidateTagsWithGenerations(tags: readonly string[], options?: { probe?: boolean }): Promise<string[] | undefined>;
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
  /**
   * The longest wait between two tries of a shared-tier invalidation that failed, in ms: the first
   * retry comes after 50 ms, and each next one waits twice as long, up to this. @default 1000
   */
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
  /**
   * Tags whose shared invalidation failed (Redis down or hung), retried until it succeeds; each with
   * the number of its last failure, so a retry that began before another write's failure of the
   * same tag does not count for it.
   */
  private readonly unsent = new Map<string, number>();
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = FIRST_RETRY_MS;
  private attempting = false;
  private closed = false;

  constructor(private readonly options: InvalidatorOptions) {}

  /** Resolves to the fences this invalidation produced, for the write-through that follows it. */
  invalidate(tags: readonly string[]): Promise<InvalidationFences> {
    return inSpan(SPAN.invalidate, () => this.invalidateEverywhere(tags));
  }

  /** {@link invalidate}, in its span. */
  private async invalidateEverywhere(tags: readonly string[]): Promise<InvalidationFences> {
    traceInvalidatedTags(tags);
    if (tags.length === 0) return {};
    const { shared, bus } = this.options;
    const failuresBefore = this.failures;
    // A probe: a write's invalidation is tried even while the guard skips L3 after some other call
    // failed (it is still bounded by the command timeout); skipped, it would leave the old entries
    // valid for the others until the retry.
    const generations = shared ? await shared.invalidateTagsWithGenerations(tags, { probe: true }) : undefined;
    if (shared && generations === undefined) this.retryLater(tags);
    else this.confirmed(tags, failuresBefore);
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

  /**
   * Whether any of `tags` has an invalidation this instance committed and the shared tier has not
   * taken yet: the shared tier's entries carrying one may be from before the write (RedisTier reads
   * them as misses).
   */
  unconfirmed(tags: readonly string[]): boolean {
    if (this.unsent.size === 0) return false;
    return tags.some((tag) => this.unsent.has(tag));
  }

  /**
   * The tags unconfirmed now, kept as they are (a later confirmation does not change them), or
   * undefined when there are none: what a shared-tier lookup is judged by (see RedisTierOptions).
   */
  unconfirmedNow(): ((tags: readonly string[]) => boolean) | undefined {
    if (this.unsent.size === 0) return undefined;
    const unsent = new Set(this.unsent.keys());
    return (tags) => tags.some((tag) => unsent.has(tag));
  }

  /** Tries what is waiting now: the shared tier answers again (TierGuard's recovery). */
  retryNow(): void {
    if (this.unsent.size === 0 || this.closed) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.attempt();
  }

  /** Stops retrying; what is still unsent stays unsent (its entries expire with their TTL). */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /**
   * A new generation for `tags` covers every write whose invalidation of them failed before it was
   * set: those whose failure was recorded before it began (number `failuresBefore` or lower).
   */
  private confirmed(tags: readonly string[], failuresBefore: number): void {
    if (this.unsent.size === 0) return;
    for (const tag of tags) if ((this.unsent.get(tag) ?? Infinity) <= failuresBefore) this.unsent.delete(tag);
  }

  private retryLater(tags: readonly string[]): void {
    this.failures += 1;
    for (const tag of tags) this.unsent.set(tag, this.failures);
    this.options.logger.warn({ tags }, 'shared-tier invalidation failed; retrying until Redis answers');
    this.schedule();
  }

  private schedule(): void {
    if (this.retryTimer || this.attempting || this.closed || this.unsent.size === 0) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.attempt();
    }, this.retryDelayMs).unref();
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.options.retryMs ?? 1000);
  }

  /** One try of everything unsent; never rejects. */
  private async attempt(): Promise<void> {
    if (this.attempting || this.closed) return;
    this.attempting = true;
    try {
      const failuresBefore = this.failures;
      // In slices: after a long outage, one MULTI of every pending tag could outlast the timeout
      // every time, and never be confirmed although Redis applied it.
      const pending = [...this.unsent.keys()].slice(0, RETRY_SLICE);
      // A probe: the tier may still be skipped after the failure, and nobody else may call it soon.
      const generations = await this.options.shared?.invalidateTagsWithGenerations(pending, { probe: true });
      if (generations) {
        this.confirmed(pending, failuresBefore);
        this.retryDelayMs = FIRST_RETRY_MS;
        // Again: since the first drop, a read here may have copied the old shared entry into the
        // local tier (RedisTier reads it as a miss while unconfirmed; this covers any other way), and
        // our own message never comes back.
        this.options.dropLocal(pending);
        this.options.heard.heard(pending, generations);
        // Instances that reconnected cleared their local tier; the message covers any that never left.
        await this.options.bus?.publish(pending, generations);
        this.options.logger.info({ tags: pending.length }, 'shared-tier invalidations sent after Redis came back');
      }
    } catch (error) {
      this.options.logger.error({ err: error }, 'shared-tier invalidation retry failed');
    } finally {
      this.attempting = false;
      this.schedule();
    }
  }
}

// Private:

const FIRST_RETRY_MS = 50;
/** Tags per retry: one MULTI of this many SETs takes well under a millisecond in Redis. */
const RETRY_SLICE = 500;
