import type { Logger } from 'pino';
import { CacheTierUnavailableError } from '../../errors.ts';

export interface TierGuardOptions {
  tier: string;
  logger: Logger;
  /** After a failure, calls skip the tier for this long (ms) instead of each paying a timeout. @default 1000 */
  retryAfterMs?: number;
  /**
   * A call that has not answered after this long is given up (the tier counts as down). Measured so
   * that event-loop lag does not count: see {@link withTimeout}. Unset: the client's own timeout.
   */
  timeoutMs?: number;
  now?: () => number;
  /** Told of each transition, once: the cache stack stops trusting the local tier while the shared one is down. */
  onStateChange?: (state: 'up' | 'down') => void;
  /** Told of each call that failed or timed out (not of calls skipped while the tier is down): the metrics. */
  onFailure?: (reason: 'error' | 'timeout') => void;
  /**
   * What an outage is called in the log, for a Redis client that is not a cache tier (the rate
   * limiter): the error logged once when it goes down, and the two messages.
   * @default a CacheTierUnavailableError, "cache tier <tier> unavailable; reads fall through to the next tier and the database", "cache tier <tier> recovered"
   */
  outage?: { readonly error: (cause: unknown) => Error; readonly down: string; readonly recovered: string };
}

/**
 * Every call to a remote tier goes through here, and this is where a failure turns into "degrade":
 * the caller gets its fallback (a miss, a dropped write), never an exception.
 *
 * After a failure the tier is skipped for `retryAfterMs`, then one call probes it again, so an
 * outage costs each request nothing once noticed. The log says "unavailable" once when the tier goes
 * down and "recovered" once when it comes back, not once per request.
 */
export class TierGuard {
  private down = false;
  private skipUntil = 0;
  private readonly retryAfterMs: number;
  private readonly now: () => number;

  constructor(private readonly options: TierGuardOptions) {
    this.retryAfterMs = options.retryAfterMs ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** `up` while calls succeed; `down` from a failure until a call succeeds again. */
  get state(): 'up' | 'down' {
    return this.down ? 'down' : 'up';
  }

  /**
   * `call`, or `fallback` when it fails, times out, or the tier is being skipped after a failure.
   * `probe`: try even while skipping (a retry that must not wait for someone else's call to find the
   * tier back).
   */
  async run<T>(fallback: T, call: () => Promise<T>, options: { probe?: boolean } = {}): Promise<T> {
    if (this.down && !options.probe && this.now() < this.skipUntil) return fallback;
    try {
      const result = this.options.timeoutMs === undefined ? await call() : await withTimeout(call(), this.options.timeoutMs);
      this.markUp();
      return result;
    } catch (error) {
      this.options.onFailure?.(isTimeout(error) ? 'timeout' : 'error');
      this.markDown(error);
      return fallback;
    }
  }

  /** For failures seen outside a call, such as a connection's error events. */
  markDown(error: unknown): void {
    this.skipUntil = this.now() + this.retryAfterMs;
    if (this.down) return;
    this.down = true;
    const { outage, tier } = this.options;
    const err = outage ? outage.error(error) : new CacheTierUnavailableError(tier, { cause: error });
    this.options.logger.warn({ err, tier, cause: error instanceof Error ? error.message : String(error) }, outage?.down ?? `cache tier ${tier} unavailable; reads fall through to the next tier and the database`);
    this.options.onStateChange?.('down');
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    this.options.logger.info({ tier: this.options.tier }, this.options.outage?.recovered ?? `cache tier ${this.options.tier} recovered`);
    this.options.onStateChange?.('up');
  }
}

/**
 * Rejects if `promise` has not settled `ms` after the call. A plain timer would also fire when the
 * reply arrived in time but the event loop was busy (a burst of requests keeps it busy for longer
 * than any sensible timeout), and turn load into a false outage. So the timer only schedules the
 * check with setImmediate, which runs after the event loop's I/O phase: a reply that is already
 * waiting on the socket is read first, and only a reply that truly has not come counts as late.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      setImmediate(() => {
        if (settled) return;
        settled = true;
        reject(Object.assign(new Error(`no answer within ${ms} ms`), { name: 'TimeoutError' }));
      });
    }, ms);
    promise.then(
      (value) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/** A call given up by {@link withTimeout}, or by the Redis client's own command timeout. */
function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === 'TimeoutError' || error.message === 'Command timed out');
}
