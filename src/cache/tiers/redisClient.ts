import { Cluster, Redis } from 'ioredis';
import type { ClusterNode } from '../../config/config.ts';

export interface RedisClientOptions {
  url: string;
  /** A slow Redis must not stall a request: callers give up after this many ms (see connectionOptions). */
  commandTimeoutMs: number;
}

export interface ClusterClientOptions {
  clusterNodes: readonly ClusterNode[];
  /** As {@link RedisClientOptions.commandTimeoutMs}. */
  commandTimeoutMs: number;
  /**
   * For a subscriber: sharded pub/sub (SSUBSCRIBE), so a channel's messages come from the one node
   * that owns its slot, in order, and a subscriber that moves with the slot is noticed (see
   * InvalidationBus). @default false
   */
  shardedSubscribers?: boolean;
}

/**
 * A connection tuned for a cache that may fail: commands fail at once while disconnected (no offline
 * queue, no per-request retries) or, through TierGuard, after `commandTimeoutMs`, and the client keeps reconnecting in
 * the background with a capped backoff.
 */
export function createRedisClient(options: RedisClientOptions): Redis;
export function createRedisClient(options: ClusterClientOptions): Cluster;
export function createRedisClient(options: RedisClientOptions | ClusterClientOptions): Redis | Cluster;
export function createRedisClient(options: RedisClientOptions | ClusterClientOptions): Redis | Cluster {
  if ('clusterNodes' in options) {
    // The same behaviour on every node's connection; the cluster client adds routing by slot.
    return new Cluster([...options.clusterNodes], {
      redisOptions: connectionOptions(options.commandTimeoutMs),
      enableOfflineQueue: false,
      clusterRetryStrategy: (attempt) => Math.min(100 * attempt, 2000),
      enableAutoPipelining: true,
      ...(options.shardedSubscribers ? { shardedSubscribers: true } : {}),
    });
  }
  return new Redis(options.url, {
    ...connectionOptions(options.commandTimeoutMs),
    enableOfflineQueue: false,
    retryStrategy: (attempt) => Math.min(100 * attempt, 2000),
    // Fills issued in the same tick (entities primed by a list, plus the list) share one round trip.
    enableAutoPipelining: true,
  });
}

/**
 * The per-connection part of the options above, shared with Cluster clients (their `redisOptions`).
 *
 * The client's own command timeout is only a backstop, far above `commandTimeoutMs`: its timer fires
 * even when the reply has arrived but the event loop was too busy to read it, so under a burst of
 * requests it reports outages that are not there. The callers that must not wait (TierGuard) apply
 * `commandTimeoutMs` themselves, in a way that event-loop lag does not trip.
 */
export function connectionOptions(commandTimeoutMs: number) {
  return {
    commandTimeout: Math.max(5000, commandTimeoutMs * 10),
    connectTimeout: Math.max(1000, commandTimeoutMs * 4),
    maxRetriesPerRequest: 0,
  };
}

/** Resolves when the client is ready, or after `ms` (startup never waits on the cache for long). */
export async function waitUntilReady(redis: Redis | Cluster, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const onReady = () => done(true);
    function done(ready: boolean) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    }
    redis.on('ready', onReady);
  });
}

/**
 * Closes politely (QUIT lets pending replies arrive) when Redis answers, and drops the socket when
 * it does not: shutdown must not hang on a cache that is down.
 */
export async function closeRedisClient(redis: Redis | Cluster, ms = 1000): Promise<void> {
  if (redis.status === 'ready') {
    const timer = new Promise<void>((resolve) => setTimeout(resolve, ms).unref());
    await Promise.race([
      redis.quit().then(
        () => undefined,
        () => undefined,
      ),
      timer,
    ]);
  }
  redis.disconnect();
}
