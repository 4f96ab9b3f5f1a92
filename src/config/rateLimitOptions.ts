import { integer, oneOf, type Env } from './environment.ts';

/**
 * The request rate limit: an exact sliding window (limits/rateLimit/), counted in the Redis of
 * `REDIS_URL` or `REDIS_CLUSTER_NODES` and so shared by every instance; without one, in this
 * process only (each instance then lets its own `limit` through).
 */
export interface RateLimitOptions {
  /** `RATE_LIMIT`: `on` counts every GraphQL request, response-tier hits included; `off` counts none. @default "off" */
  enabled: boolean;
  /** `RATE_LIMIT_REQUESTS`: requests a signed-in viewer (by user id) may send per window. @default 600 */
  userRequests: number;
  /** `RATE_LIMIT_ANONYMOUS_REQUESTS`: requests an anonymous client (by address) may send per window. @default {@link RateLimitOptions.userRequests} */
  anonymousRequests: number;
  /** `RATE_LIMIT_WINDOW_SECONDS`: the sliding window's length. @default 60 */
  windowSeconds: number;
  /**
   * `RATE_LIMIT_WHEN_REDIS_DOWN`: while the limiter's Redis fails or does not answer within
   * `REDIS_COMMAND_TIMEOUT_MS`, `open` lets requests through uncounted, `closed` refuses
   * them with 503 and Retry-After. @default "open"
   */
  whenRedisDown: 'open' | 'closed';
  /**
   * `RATE_LIMIT_TRUSTED_PROXY_HOPS`: how many proxies in front of the server append to
   * `X-Forwarded-For`; an anonymous client's address is the entry that many hops back from the
   * connection's. 0: the connection's own address, and the header is ignored (anyone can write it).
   * @default 0
   */
  trustedProxyHops: number;
}

/** Reads {@link RateLimitOptions}; the first bad value throws a ConfigError naming it. */
export function readRateLimitOptions(env: Env): RateLimitOptions {
  const userRequests = integer(env, 'RATE_LIMIT_REQUESTS', 600, 1, 1_000_000);
  return {
    enabled: oneOf(env, 'RATE_LIMIT', ['on', 'off'], 'off') === 'on',
    userRequests,
    anonymousRequests: integer(env, 'RATE_LIMIT_ANONYMOUS_REQUESTS', userRequests, 1, 1_000_000),
    windowSeconds: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
    whenRedisDown: oneOf(env, 'RATE_LIMIT_WHEN_REDIS_DOWN', ['open', 'closed'], 'open'),
    trustedProxyHops: integer(env, 'RATE_LIMIT_TRUSTED_PROXY_HOPS', 0, 0, 16),
  };
}
