import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { withTimeout } from '../cache/tiers/tierGuard.ts';
import { LockLostError, LockNotAcquiredError, LockUnavailableError } from '../errors.ts';
import { withLockScripts, type WithLockScripts } from './lockScripts.ts';

export interface LockOptions {
  /**
   * Where the locks live. A client from createRedisClient fails commands at once while disconnected,
   * so an acquire against a Redis that is down fails at once too.
   */
  redis: Redis | Cluster;
  /**
   * Before every key, as the app's CACHE_PREFIX. No braces: each lock's keys carry its name as their
   * hash tag, so on a Redis Cluster the lock and its fencing counter share a slot. @default ''
   */
  prefix?: string;
  /**
   * A command not answered after this many ms fails the acquire (LockUnavailableError) or counts as
   * a failed renewal. Measured as TierGuard measures it: event-loop lag does not count. @default 250
   */
  commandTimeoutMs?: number;
  /** How long an acquire retries a lock that another holds, in ms, before LockNotAcquiredError; 0 tries once. @default 1000 */
  acquireWaitMs?: number;
  /** How often a held lock's TTL is renewed while its holder runs, in ms. @default a third of the lock's TTL */
  renewEveryMs?: number;
  /** The jitter of acquire retries: a number in [0, 1). @default Math.random */
  random?: () => number;
}

/** What a holder is given while it holds a lock. */
export interface LockLease {
  readonly name: string;
  /**
   * Greater than the token of every earlier holder of this lock name. A guarded write carries it,
   * and the resource refuses a token lower than one it has seen (see fencing.ts): that, not the lock,
   * is what keeps a holder that lost its lock without knowing from writing.
   */
  readonly fencingToken: number;
  /** Aborted, with a LockLostError as its reason, when a renewal finds the lock lost. */
  readonly signal: AbortSignal;
}

/**
 * Mutual exclusion across processes, over Redis: `withLock(name, ttlMs, fn)` runs `fn` while this
 * process holds the lock `name`.
 *
 * Acquire is `SET lock <random token> NX PX ttl` and, in the same script, the next fencing token.
 * While `fn` runs the TTL is renewed every `renewEveryMs` (compare the token, then PEXPIRE, in one
 * script); release compares the token and deletes in one script, so a holder never deletes a lock
 * that expired under it and was taken by another.
 *
 * A lock can still be lost: a holder paused longer than its TTL (GC, a frozen VM), renewals that
 * cannot reach Redis, a failover to a replica that had not seen the lock. Then `fn` is told through
 * its signal (at the next renewal), runs on until it settles, and withLock rejects with a
 * LockLostError, so the caller never takes a lost lock's work for exclusive. Writes that must stay
 * exclusive check the fencing token where they land.
 */
export class Locks {
  private readonly redis: WithLockScripts;
  private readonly prefix: string;
  private readonly commandTimeoutMs: number;
  private readonly acquireWaitMs: number;
  private readonly renewEveryMs: number | undefined;
  private readonly random: () => number;

  constructor(options: LockOptions) {
    this.prefix = getValidPrefix(options.prefix);
    this.commandTimeoutMs = getValidMs(options.commandTimeoutMs, 'commandTimeoutMs', 250, 1);
    this.acquireWaitMs = getValidMs(options.acquireWaitMs, 'acquireWaitMs', 1000, 0);
    this.renewEveryMs = options.renewEveryMs === undefined ? undefined : getValidMs(options.renewEveryMs, 'renewEveryMs', 0, 1);
    this.random = options.random ?? Math.random;
    this.redis = withLockScripts(options.redis);
  }

  /**
   * Runs `fn` holding the lock `name` and resolves to its result. Rejects with LockNotAcquiredError
   * when another holder kept it for `acquireWaitMs`, LockUnavailableError when Redis did not answer
   * (in both cases `fn` did not run), LockLostError when the lock was lost while `fn` ran (after `fn`
   * settled; its own error, if any, is the cause), and otherwise with `fn`'s error.
   */
  async withLock<T>(name: string, ttlMs: number, fn: (lease: LockLease) => Promise<T>): Promise<T> {
    const keys = lockKeys(this.prefix, getValidName(name));
    getValidMs(ttlMs, 'ttlMs', 0, 1);
    // Renewing no sooner than the TTL would let every lock expire under its holder.
    if (this.renewEveryMs !== undefined && this.renewEveryMs >= ttlMs) {
      throw new TypeError(`ttlMs must be above renewEveryMs (${this.renewEveryMs}), got ${ttlMs}`);
    }
    const token = randomBytes(16).toString('hex');
    const { fencingToken, sentAt } = await this.acquire(name, keys, { token, ttlMs });
    const holding = this.renewWhileHeld(name, keys, { token, ttlMs, sentAt });

    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn({ name, fencingToken, signal: holding.signal }) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    holding.stop();

    // Only our own token is deleted: a lock that expired under us may be someone else's by now.
    const released = await this.command(() => this.redis.releaseLock(keys.lock, token)).then(
      (deleted) => deleted === 1,
      // Redis gone at release: the TTL frees the lock; whether it was still ours is the clock's call.
      () => performance.now() < holding.validUntil(),
    );
    if (holding.signal.aborted || !released) {
      throw new LockLostError(name, outcome.ok ? undefined : { cause: outcome.error });
    }
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  // Private:

  private async acquire(name: string, keys: LockKeys, lock: { token: string; ttlMs: number }): Promise<{ fencingToken: number; sentAt: number }> {
    const started = performance.now();
    for (let attempt = 0; ; attempt++) {
      const sentAt = performance.now();
      let reply: string | null;
      try {
        reply = await this.command(() => this.redis.acquireLock(keys.lock, keys.fence, lock.token, lock.ttlMs));
      } catch (error) {
        // A SET that timed out may still land; a release queued behind it on the same connection
        // keeps it from standing for a whole TTL.
        this.redis.releaseLock(keys.lock, lock.token).catch(() => {});
        throw new LockUnavailableError(name, { cause: error });
      }
      if (reply !== null) return { fencingToken: Number(reply), sentAt };
      const waited = performance.now() - started;
      if (waited >= this.acquireWaitMs) throw new LockNotAcquiredError(name, Math.round(waited));
      await sleep(Math.min(retryDelayMs(attempt, this.random), this.acquireWaitMs - waited));
    }
  }

  /**
   * Renews the TTL every `renewEveryMs` until stopped. The lock is lost when a renewal finds another
   * token (or none), or when renewals have failed for as long as the TTL since the last one that
   * worked was sent: by then the key has expired in Redis, whether or not Redis is back.
   */
  private renewWhileHeld(name: string, keys: LockKeys, lock: { token: string; ttlMs: number; sentAt: number }) {
    const controller = new AbortController();
    const every = this.renewEveryMs ?? Math.max(1, Math.floor(lock.ttlMs / 3));
    let validUntil = lock.sentAt + lock.ttlMs;
    let stopped = false;
    let timer: NodeJS.Timeout | undefined;
    const lose = () => controller.abort(new LockLostError(name));
    const renew = async () => {
      const sentAt = performance.now();
      const renewed = await this.command(() => this.redis.renewLock(keys.lock, lock.token, lock.ttlMs)).then(
        (reply) => reply === 1,
        () => undefined,
      );
      if (stopped) return;
      if (renewed) validUntil = sentAt + lock.ttlMs;
      if (renewed === false || (renewed === undefined && performance.now() >= validUntil)) return lose();
      schedule();
    };
    const schedule = () => {
      timer = setTimeout(() => void renew(), every);
    };
    schedule();
    return {
      signal: controller.signal,
      validUntil: () => validUntil,
      stop() {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  private command<T>(call: () => Promise<T>): Promise<T> {
    return withTimeout(call(), this.commandTimeoutMs);
  }
}

/** Where lock `name` lives: the lock and its fencing counter, in one hash slot (the name is the tag). */
export interface LockKeys {
  readonly lock: string;
  readonly fence: string;
}

export function lockKeys(prefix: string, name: string): LockKeys {
  return { lock: `${prefix}lock:{${name}}`, fence: `${prefix}lock:{${name}}:fence` };
}

/**
 * The pause before acquire retry `attempt` (0-based): a ceiling doubling from 10 ms to 200 ms, and a
 * random point in its upper half, so contenders that failed together do not retry together. Pure.
 */
export function retryDelayMs(attempt: number, random: () => number): number {
  const ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
  return ceiling / 2 + (random() * ceiling) / 2;
}

// Private:

const FIRST_RETRY_MS = 10;
const MAX_RETRY_MS = 200;

function getValidName(name: string): string {
  if (name.length === 0 || /[{}]/.test(name)) throw new TypeError(`lock name must be non-empty and without braces, got ${JSON.stringify(name)}`);
  return name;
}

function getValidPrefix(prefix: string | undefined): string {
  if (prefix === undefined) return '';
  if (/[{}]/.test(prefix)) throw new TypeError(`prefix must not contain braces, got ${JSON.stringify(prefix)}`);
  return prefix;
}

function getValidMs(value: number | undefined, option: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) throw new TypeError(`${option} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  return value;
}
