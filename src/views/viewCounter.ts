import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { TierGuard } from '../cache/tiers/tierGuard.ts';
import type { Prisma } from '../database/database.ts';
import type { Logger } from '../logging/logger.ts';
import { applyViewEvents, isProductId } from './viewEvents.ts';
import { viewKeys, type ViewKeys } from './viewKeys.ts';

export interface ViewCounterOptions {
  redis: Redis | Cluster;
  /** The app's CACHE_PREFIX; the keys are in {@link viewKeys}. */
  prefix: string;
  prisma: Prisma;
  logger: Logger;
  /**
   * Every Redis call goes through it: it gives a silent Redis up (set its `timeoutMs` to the
   * REDIS_COMMAND_TIMEOUT_MS; the client's own timeout is only a 5 s backstop) and skips Redis for a
   * while after a failure. @default a TierGuard of its own, "views", without a timeout of its own
   */
  guard?: Pick<TierGuard, 'run'>;
}

/** Where a view went: into the Redis buffer, or (Redis failing) straight into the database. */
export type RecordedVia = 'buffered' | 'direct';

/**
 * The write side of the view counter: a view costs one Redis round trip, and ViewFlusher moves the
 * buffered views into Product.viewCount in batches. Until then, {@link pendingMany} gives the delta
 * that reads add to the stored count.
 *
 * Each view gets a random event id, stored with its stream entry. When Redis fails, the view is
 * applied to the database directly under that id; if the Redis write did land after all (a timeout
 * hides success as well as failure), the flusher later finds the id already applied and adds
 * nothing. So no view is lost and none is counted twice.
 */
export class ViewCounter {
  private readonly redis: WithViewScripts;
  private readonly keys: ViewKeys;
  private readonly guard: Pick<TierGuard, 'run'>;

  constructor(private readonly options: ViewCounterOptions) {
    this.keys = viewKeys(options.prefix);
    this.guard = options.guard ?? new TierGuard({ tier: 'views', logger: options.logger });
    this.redis = options.redis as WithViewScripts;
    if (!('recordView' in options.redis)) options.redis.defineCommand('recordView', { numberOfKeys: 2, lua: RECORD_VIEW });
  }

  /**
   * Counts one view. 'direct' means the database row changed now (its version too), so the caller
   * must invalidate that product's cache entries; 'buffered' views reach the row later, through the
   * flusher and its `onFlushed`.
   */
  async record(productId: number): Promise<RecordedVia> {
    if (!isProductId(productId)) throw new TypeError(`productId must be a positive 32-bit integer, got ${productId}`);
    const eventId = randomUUID();
    // The stream entry and the pending count change together or not at all (one script, one slot).
    const via = await this.guard.run<RecordedVia | 'unavailable'>('unavailable', async () => {
      await this.redis.recordView(this.keys.stream, this.keys.pending, productId, eventId);
      return 'buffered';
    });
    if (via === 'buffered') return via;
    // Redis failed or is being skipped: the view must not be lost, so it goes to the row now.
    await applyViewEvents(this.options.prisma, [{ eventId, productId }]);
    return 'direct';
  }

  /**
   * Views recorded but not yet flushed, per product, in the order asked; 0 for none. Reads degrade:
   * with Redis failing this gives zeros rather than an error.
   */
  async pendingMany(productIds: readonly number[]): Promise<number[]> {
    const zeros = productIds.map(() => 0);
    if (productIds.length === 0) return zeros;
    return this.guard.run(zeros, async () => {
      const counts = await this.redis.hmget(this.keys.pending, ...productIds.map(String));
      return counts.map((count) => (count === null ? 0 : Math.max(0, Number(count))));
    });
  }
}

// Private:

type WithViewScripts = (Redis | Cluster) & {
  recordView(stream: string, pending: string, productId: number, eventId: string): Promise<number>;
};

// No MAXLEN: trimming the stream would drop views that no flusher has applied yet.
const RECORD_VIEW = `
redis.call('XADD', KEYS[1], '*', 'p', ARGV[1], 'e', ARGV[2])
return redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
`;
