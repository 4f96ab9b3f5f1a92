/**
 * XFetch, the probabilistic early refresh of Vattani, Chierichetti and Lowenstein ("Optimal
 * Probabilistic Cache Stampede Prevention", VLDB 2015). Each read of a fresh entry refreshes it early
 * when
 *
 *     now - delta * beta * ln(random()) >= expiry
 *
 * where delta is how long the value took to compute. ln(random()) is negative, so the left side is
 * `now` pushed forward by a random gap with an exponential distribution of mean delta * beta: far
 * from expiry almost no read refreshes, and the probability rises to 1 as expiry nears. Slow values
 * (large delta) start earlier. One reader wins the refresh while the others keep being served the
 * current value, so the entry is replaced before it expires and nobody waits on a miss.
 *
 * Pure: the clock and the random source are arguments.
 */

export interface XFetchInput {
  /** ms since the epoch. */
  readonly now: number;
  /** When the entry stops being fresh, ms since the epoch. */
  readonly expiresAt: number;
  /** The recompute time, ms. */
  readonly deltaMs: number;
  /** > 1 refreshes earlier, < 1 later; 0 turns early refresh off. */
  readonly beta: number;
  /** A uniform sample from (0, 1]. */
  readonly random: number;
}

export function shouldRefreshEarly({ now, expiresAt, deltaMs, beta, random }: XFetchInput): boolean {
  if (beta <= 0 || deltaMs <= 0) return now >= expiresAt;
  // random() may return exactly 0, and ln(0) is -Infinity: clamp so the gap stays finite.
  const gap = -deltaMs * beta * Math.log(Math.max(random, Number.MIN_VALUE));
  return now + gap >= expiresAt;
}

/**
 * The probability that one read at `now` refreshes early: P(-delta*beta*ln(U) >= expiry - now)
 * = exp(-(expiry - now) / (delta * beta)). For tests and for reasoning, not used on the read path.
 */
export function earlyRefreshProbability({ now, expiresAt, deltaMs, beta }: Omit<XFetchInput, 'random'>): number {
  const remaining = expiresAt - now;
  if (remaining <= 0) return 1;
  if (beta <= 0 || deltaMs <= 0) return 0;
  return Math.exp(-remaining / (deltaMs * beta));
}
