/**
 * An exact sliding-window log: a request is admitted when fewer than `limit` requests were admitted
 * in the `windowMs` before it. Each admitted request is remembered by its time until it leaves the
 * window, so a key never holds more than `limit` of them, and a refused request is not remembered
 * (a client that keeps knocking does not push its own recovery back).
 *
 * Unlike a fixed window (INCR a counter named after the current minute, then EXPIRE it: two calls,
 * and a racer can die between them leaving a counter that never expires), there is no boundary at
 * which the count restarts: 2 × limit requests straddling a minute boundary cannot all pass.
 *
 * {@link admit} is the rule, pure; {@link SLIDING_WINDOW_SCRIPT} is the same rule in one Redis
 * script, on Redis's own clock, so that every instance counts into one log atomically.
 */

/** How many requests, over how long. */
export interface WindowPolicy {
  /** Requests admitted per window, at least 1. */
  readonly limit: number;
  readonly windowMs: number;
}

/** What one request was told. */
export interface WindowDecision {
  readonly allowed: boolean;
  /** Requests still admitted within the window after this one: `limit - count`. */
  readonly remaining: number;
  /**
   * Milliseconds until the oldest request still counted leaves the window, which is when one more
   * is admitted (for a refused request: when to retry). Until then, `remaining` cannot grow. 0 when
   * nothing is counted.
   */
  readonly resetMs: number;
}

/**
 * Decides one request at `now` against `log`, the ascending times of the requests admitted so far
 * (updated in place: expired times dropped, `now` appended when admitted). Pure but for `log`.
 */
export function admit(log: number[], now: number, policy: WindowPolicy): WindowDecision {
  // A request made at t counts while now - t < windowMs, exactly as the script's ZREMRANGEBYSCORE.
  let expired = 0;
  while (expired < log.length && (log[expired] as number) <= now - policy.windowMs) expired++;
  if (expired > 0) log.splice(0, expired);
  const allowed = log.length < policy.limit;
  if (allowed) log.push(now);
  const oldest = log[0];
  return { allowed, remaining: policy.limit - log.length, resetMs: oldest === undefined ? 0 : oldest + policy.windowMs - now };
}

/**
 * {@link admit} in one round trip, atomic: `KEYS[1]` is a sorted set of admitted requests scored
 * by their time in ms; `ARGV` is the limit, the window in ms and a member unique to this request
 * (two requests in the same millisecond must count twice). Replies `{ allowed (1/0), remaining,
 * resetMs }`.
 *
 * The time is Redis's (`TIME`), not the calling instance's: every instance counts on one clock, and
 * a skewed instance clock cannot stretch or shrink anyone's window. (Redis 7 replicates a script's
 * effects, not the script, so a read of `TIME` before a write is allowed.) The key lives one window
 * after its last admission, and holds at most `limit` members.
 */
export const SLIDING_WINDOW_SCRIPT = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
local allowed = 0
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  count = count + 1
  allowed = 1
end
local reset = 0
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then reset = tonumber(oldest[2]) + window - now end
return { allowed, limit - count, reset }
`;

/** The script's reply as a decision; anything else (a foreign script under the name) throws, which the guard counts as a failure. */
export function decisionFromReply(reply: unknown): WindowDecision {
  if (!Array.isArray(reply) || reply.length !== 3 || !reply.every((n) => typeof n === 'number')) {
    throw new TypeError(`sliding window script replied ${JSON.stringify(reply)}, expected [allowed, remaining, resetMs]`);
  }
  const [allowed, remaining, resetMs] = reply as [number, number, number];
  return { allowed: allowed === 1, remaining, resetMs };
}
