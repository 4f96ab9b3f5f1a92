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
 * {@link admit} for every request of a batch, in one round trip, atomic: each of `KEYS` is a sorted
 * set of admitted requests scored by their time in ms. `ARGV` is a member prefix unique to the
 * calling instance, then per key: the limit, the window in ms, how many requests of the batch are
 * under that key, and the sequence number of the first (each admitted request's member is the
 * prefix and its number: two requests in the same millisecond must count twice). The requests of
 * one key are decided in order, as that many calls of {@link admit} would. Replies, per key,
 * `{ counted before the batch, admitted of the batch, resetMs after it }`.
 *
 * The time is Redis's (`TIME`), not the calling instance's: every instance counts on one clock, and
 * a skewed instance clock cannot stretch or shrink anyone's window. (Redis 7 replicates a script's
 * effects, not the script, so a read of `TIME` before a write is allowed.) A key lives one window
 * after its last admission, and holds at most `limit` members.
 */
export const SLIDING_WINDOW_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local prefix = ARGV[1]
local reply = {}
for k = 1, #KEYS do
  local key = KEYS[k]
  local limit = tonumber(ARGV[k * 4 - 2])
  local window = tonumber(ARGV[k * 4 - 1])
  local requests = tonumber(ARGV[k * 4])
  local sequence = tonumber(ARGV[k * 4 + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local before = redis.call('ZCARD', key)
  local admitted = math.max(0, math.min(requests, limit - before))
  for i = 0, admitted - 1 do
    redis.call('ZADD', key, now, prefix .. (sequence + i))
  end
  if admitted > 0 then redis.call('PEXPIRE', key, window) end
  local reset = 0
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  if oldest[2] then reset = tonumber(oldest[2]) + window - now end
  reply[#reply + 1] = before
  reply[#reply + 1] = admitted
  reply[#reply + 1] = reset
end
return reply
`;

/** How many requests of a batch, under one key, the script decided, and what it replied for them. */
export interface KeyReply {
  readonly before: number;
  readonly admitted: number;
  readonly resetMs: number;
}

/** The script's reply, one {@link KeyReply} per key; anything else (a foreign script under the name) throws, which the guard counts as a failure. */
export function keyReplies(reply: unknown, keys: number): KeyReply[] {
  if (!Array.isArray(reply) || reply.length !== keys * 3 || !reply.every((n) => typeof n === 'number')) {
    throw new TypeError(`sliding window script replied ${JSON.stringify(reply)}, expected [before, admitted, resetMs] for each of ${keys} keys`);
  }
  const numbers = reply;
  return Array.from({ length: keys }, (_, k) => ({ before: numbers[k * 3]!, admitted: numbers[k * 3 + 1]!, resetMs: numbers[k * 3 + 2]! }));
}

/** What the `i`-th request of a key's batch was told: the same as {@link admit} in that order. Pure. */
export function decisionInBatch(reply: KeyReply, i: number, policy: WindowPolicy): WindowDecision {
  const allowed = i < reply.admitted;
  const counted = reply.before + (allowed ? i + 1 : reply.admitted);
  return { allowed, remaining: policy.limit - counted, resetMs: reply.resetMs };
}
