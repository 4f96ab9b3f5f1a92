import type { CacheStack } from '../cache/stack.ts';
import { tags } from '../cache/tags/tags.ts';
import { closeRedisClient, createRedisClient, waitUntilReady } from '../cache/tiers/redisClient.ts';
import { TierGuard } from '../cache/tiers/tierGuard.ts';
import type { Config } from '../config/config.ts';
import { viewsRedisTarget } from '../config/redisTargets.ts';
import type { Database } from '../database/database.ts';
import type { Logger } from '../logging/logger.ts';
import type { Redis, Cluster } from 'ioredis';
import { DirectViewRecorder } from './directViewRecorder.ts';
import { ViewCounter } from './viewCounter.ts';
import { ViewFlusher } from './viewFlusher.ts';
import { viewKeys } from './viewKeys.ts';

export interface ViewCountingOptions {
  readonly config: Config;
  readonly database: Database;
  /** Flushed rows changed under the cache: their entries are invalidated through it. */
  readonly cache: Pick<CacheStack, 'invalidator'>;
  /** This process's name in the flushers' consumer group. */
  readonly instanceId: string;
  readonly logger: Logger;
  /** Told how many buffered views each flushed batch moved into the database. */
  readonly onFlushedViews?: (views: number) => void;
}

/** How product views are counted: what the mutations record with, and what the loaders add to a row. */
export interface ViewCounting {
  readonly recorder: Pick<ViewCounter, 'record'>;
  /** Views buffered and not flushed yet, per product: added to the row's count when it is read. */
  readonly pendingViews?: (productIds: readonly number[]) => Promise<number[]>;
  /** Views buffered and not flushed yet, and the age of the oldest in ms; undefined when Redis does not answer. */
  readonly backlog?: () => Promise<{ pending: number; oldestAgeMs: number } | undefined>;
  /** The views Redis, for the startup check of its settings (process/redisRoles.ts). */
  readonly redis?: Redis | Cluster;
  /** Starts flushing buffered views; call once the server is up. */
  start(): void;
  /** Buffered views go to the database before the connections close. */
  close(): Promise<void>;
}

/**
 * Write-behind product views: buffered in the views Redis (a store, not the cache: see config.ts)
 * and flushed in batches, or straight to the database without one.
 */
export async function openViewCounting(options: ViewCountingOptions): Promise<ViewCounting> {
  const { config, database, logger } = options;
  const target = viewsRedisTarget(config);
  if (!target) return { recorder: new DirectViewRecorder(database.prisma), start() {}, async close() {} };

  const connect = () => createRedisClient({ ...target, commandTimeoutMs: config.redisCommandTimeoutMs });
  const redis = connect();
  const guard = new TierGuard({ tier: 'views', logger, timeoutMs: config.redisCommandTimeoutMs });
  redis.on('error', (error) => guard.markDown(error));
  // The flusher's stream commands get their own connection: background batches never queue behind, or in front of, requests.
  const flusherRedis = connect();
  // Failures surface (and are logged once) through the flush loop; the client only reconnects.
  flusherRedis.on('error', () => {});
  await waitUntilReady(redis, 2000);

  const counter = new ViewCounter({ redis, prefix: config.cachePrefix, prisma: database.prisma, logger, guard });
  const flusher = new ViewFlusher({
    redis: flusherRedis,
    prisma: database.prisma,
    prefix: config.cachePrefix,
    consumer: options.instanceId,
    batchSize: config.viewFlushBatchSize,
    intervalMs: config.viewFlushIntervalMs,
    claimIdleMs: config.viewFlushClaimIdleMs,
    commandTimeoutMs: config.redisCommandTimeoutMs,
    logger,
    ...(options.onFlushedViews ? { onAcked: options.onFlushedViews } : {}),
    // The flushed rows' viewCount (and version) changed under the cache.
    onFlushed: async (productIds) => {
      await options.cache.invalidator.invalidate(productIds.map((id) => tags.entity('Product', id)));
    },
  });
  return {
    recorder: counter,
    pendingViews: (ids) => counter.pendingMany(ids),
    backlog: () => guard.run(undefined, () => streamBacklog(redis, viewKeys(config.cachePrefix).stream)),
    redis,
    start: () => flusher.start(),
    async close() {
      await flusher.stop();
      await closeRedisClient(flusherRedis);
      await closeRedisClient(redis);
    },
  };
}

// Private:

/** XLEN, and the age of the first entry from its id (`<ms>-<n>`): what a flusher has not acked yet. */
async function streamBacklog(redis: Redis | Cluster, stream: string): Promise<{ pending: number; oldestAgeMs: number }> {
  const [pending, first] = await Promise.all([redis.xlen(stream), redis.xrange(stream, '-', '+', 'COUNT', 1)]);
  const oldest = first[0] ? Number(first[0][0].split('-')[0]) : undefined;
  return { pending, oldestAgeMs: oldest === undefined ? 0 : Math.max(0, Date.now() - oldest) };
}
