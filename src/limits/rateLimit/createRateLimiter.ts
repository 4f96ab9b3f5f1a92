import { closeRedisClient, createRedisClient, waitUntilReady } from '../../cache/tiers/redisClient.ts';
import { TierGuard } from '../../cache/tiers/tierGuard.ts';
import type { Config } from '../../config/config.ts';
import { redisTarget } from '../../config/redisTargets.ts';
import { RateLimitUnavailableError } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import { RateLimiter } from './rateLimiter.ts';
import { LocalWindowCounter } from './localWindowCounter.ts';
import { RedisWindowCounter } from './redisWindowCounter.ts';

/** What {@link createRateLimiter} built, and how to close it. */
export interface RateLimiting {
  /** Undefined when RATE_LIMIT is off. */
  readonly limiter: RateLimiter | undefined;
  /** The limiter's Redis state, when it counts in Redis. */
  readonly guard: TierGuard | undefined;
  close(): Promise<void>;
}

/** After a failure, Redis is skipped (open: uncounted; closed: 503) this long, then probed again. */
const RETRY_AFTER_MS = 1000;

/**
 * The rate limiter of the config: off; counting in the cache's Redis (REDIS_URL or the cluster),
 * on a connection of its own so that a request's count never waits behind cache traffic; or, with
 * no Redis configured, counting in this process.
 */
export async function createRateLimiter(config: Config, logger: Logger): Promise<RateLimiting> {
  const { enabled, ...limits } = config.rateLimit;
  if (!enabled) return { limiter: undefined, guard: undefined, close: async () => {} };
  const target = redisTarget(config);
  const options = { prefix: config.cachePrefix, limits, unavailableRetryAfterSeconds: RETRY_AFTER_MS / 1000 };
  if (target === undefined) {
    logger.warn('RATE_LIMIT=on without REDIS_URL or REDIS_CLUSTER_NODES: each instance counts its own requests, so N instances admit N times the limit');
    return { limiter: new RateLimiter({ ...options, counter: new LocalWindowCounter() }), guard: undefined, close: async () => {} };
  }

  const redis = createRedisClient({ ...target, commandTimeoutMs: config.redisCommandTimeoutMs });
  const guard = new TierGuard({
    tier: 'rate-limit',
    logger,
    timeoutMs: config.redisCommandTimeoutMs,
    retryAfterMs: RETRY_AFTER_MS,
    outage: {
      error: (cause) => new RateLimitUnavailableError({ cause }),
      down: `rate limiter's Redis unavailable; requests are ${limits.whenRedisDown === 'open' ? 'let through uncounted' : 'refused with 503'} until it answers (RATE_LIMIT_WHEN_REDIS_DOWN=${limits.whenRedisDown})`,
      recovered: "rate limiter's Redis recovered; requests are counted again",
    },
  });
  redis.on('error', (error) => guard.markDown(error));
  // Startup does not wait on it for long: until it is ready, requests meet the down behaviour.
  await waitUntilReady(redis, 2000);
  const counter = new RedisWindowCounter({ redis, guard });
  return {
    limiter: new RateLimiter({ ...options, counter }),
    guard,
    close: async () => {
      // The permits leased and not used go back before the connection closes.
      await counter.close();
      await closeRedisClient(redis);
    },
  };
}
