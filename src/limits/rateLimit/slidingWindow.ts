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
 * {@link admit} is the rule, pure, as the process-local counter keeps it. In Redis, shared by every
 * instance, the log holds permit leases instead of single requests (permitLease.ts), so that most
 * requests are decided without a round trip.
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
