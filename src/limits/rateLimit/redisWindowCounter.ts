import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { TierGuard } from '../../cache/tiers/tierGuard.ts';
import { LEASE_SCRIPT, leaseDurationMs, leaseGrants, permitsKey, usePermit, type HeldLease, type LeaseGrant, type LeaseReturn } from './permitLease.ts';
import type { WindowDecision, WindowPolicy } from './slidingWindow.ts';
import type { WindowCounter } from './windowCounter.ts';

export interface RedisWindowCounterOptions {
  /** A connection of the limiter's own (see app.ts), a Redis or a Cluster. */
  redis: Redis | Cluster;
  /** Bounds every call by the command timeout, and skips Redis for a second after a failure. */
  guard: Pick<TierGuard, 'run'>;
  /** Milliseconds, monotonic. @default performance.now */
  now?: () => number;
}

/**
 * The logs in Redis, shared by every instance, counted in permit leases (permitLease.ts): a request
 * takes a permit of the lease its instance holds for its key, in the process; only when there is
 * none does it ask Redis, and then the requests of one event-loop turn ask together: one EVALSHA
 * ({@link LEASE_SCRIPT}, defined with ioredis's defineCommand, which sends the script itself once
 * after a NOSCRIPT) per turn, and per key on a Cluster. Requests that arrive while a key's lease is
 * being asked for wait for that answer. A lease's unused permits go back with the next call for its
 * key, or, on a key that has gone quiet, in a call of their own when the lease ends.
 *
 * While Redis fails, requests without a permit resolve to `undefined` (the guard's down behaviour),
 * and permits already leased are still used until their lease ends.
 */
export class RedisWindowCounter implements WindowCounter {
  private readonly redis: WithScript;
  private readonly now: () => number;
  /** Lease ids must be unique across the fleet: this instance's random prefix, then a sequence number. */
  private readonly leasePrefix = randomBytes(6).toString('base64url');
  private sequence = 0;
  /** Keys with a lease held, requests waiting, or permits to give back. */
  private readonly keys = new Map<string, KeyState>();
  /** The keys asking Redis in this turn's call. */
  private pending: string[] | undefined;
  /** After {@link close}: no lease is held any more. */
  private closed = false;

  constructor(private readonly options: RedisWindowCounterOptions) {
    this.redis = options.redis as WithScript;
    this.now = options.now ?? (() => performance.now());
    // A Cluster gets the one-key form: its auto-pipelining routes a command by its first argument,
    // which must then be the key (the variable form starts with the number of keys).
    if (!('leasePermits' in this.redis)) options.redis.defineCommand('leasePermits', { lua: LEASE_SCRIPT });
    if (!('leasePermitsOfOneKey' in this.redis)) options.redis.defineCommand('leasePermitsOfOneKey', { lua: LEASE_SCRIPT, numberOfKeys: 2 });
  }

  count(key: string, policy: WindowPolicy): Promise<WindowDecision | undefined> {
    const state = this.keys.get(key);
    // The hot path: a permit of the lease in hand, unless earlier requests are already waiting.
    if (state?.lease !== undefined && state.waiting.length === 0) {
      const decision = usePermit(state.lease, this.now(), policy);
      if (decision !== undefined) return Promise.resolve(decision);
    }
    return new Promise((resolve) => {
      const waiting = state ?? this.stateOf(key, policy);
      waiting.waiting.push(resolve);
      this.ask(key, waiting);
    });
  }

  /**
   * Gives back the unused permits of every lease held, in one last call (per key on a Cluster), so
   * that a stopping instance strands nothing; call it once no request asks any more, before the
   * connection closes. Never rejects.
   */
  async close(): Promise<void> {
    this.closed = true;
    for (const [key, state] of this.keys) {
      this.retireLease(state);
      if (state.returns.length > 0) this.ask(key, state);
    }
    await this.flush();
  }

  // Private:

  private stateOf(key: string, policy: WindowPolicy): KeyState {
    const state: KeyState = { policy, lease: undefined, timer: undefined, waiting: [], returns: [], asking: false };
    this.keys.set(key, state);
    return state;
  }

  /** Puts `key` in this turn's call, unless it is in one already (its answer serves the waiting). */
  private ask(key: string, state: KeyState): void {
    if (state.asking) return;
    state.asking = true;
    if (!this.pending) {
      this.pending = [];
      // After the poll phase: every request whose bytes arrived in this turn has asked by then.
      setImmediate(() => void this.flush());
    }
    this.pending.push(key);
  }

  private async flush(): Promise<void> {
    const keys = this.pending;
    this.pending = undefined;
    if (!keys) return;
    const groups = this.options.redis.isCluster ? keys.map((key) => [key]) : [keys];
    await Promise.all(groups.map((group) => this.askGroup(group)));
  }

  /** One call for `keys` (one slot); never rejects: a failure answers every waiting request `undefined`. */
  private async askGroup(keys: readonly string[]): Promise<void> {
    const sentAt = this.now();
    const calls = keys.map((key) => this.callFor(key));
    const args: (string | number)[] = [this.leasePrefix];
    const keyNames: string[] = [];
    for (const [k, key] of keys.entries()) {
      const { policy, sent, returns, leaseNumber } = calls[k]!;
      keyNames.push(key, permitsKey(key));
      args.push(policy.limit, policy.windowMs, leaseDurationMs(policy), sent.length, leaseNumber, returns.length);
      for (const { leaseId, used } of returns) args.push(leaseId, used);
    }
    const call = () => (keys.length === 1 ? this.redis.leasePermitsOfOneKey(keyNames[0]!, keyNames[1]!, ...args) : this.redis.leasePermits(keyNames.length, ...keyNames, ...args));
    const grants = await this.options.guard.run(undefined, async () => leaseGrants(await call(), keys.length)).catch(() => undefined);
    const receivedAt = this.now();
    keys.forEach((key, k) => this.answer(key, calls[k]!, grants?.[k], { sentAt, receivedAt }));
  }

  /**
   * What a call asks for `key`: permits for the requests waiting now, and the unused permits of the
   * lease it replaces (asking means that lease is spent or ended; giving back early is always safe).
   */
  private callFor(key: string): Call {
    const state = this.keys.get(key)!;
    this.retireLease(state);
    const call = { policy: state.policy, sent: state.waiting, returns: state.returns, leaseNumber: this.sequence++ };
    state.waiting = [];
    state.returns = [];
    return call;
  }

  private answer(key: string, call: Call, grant: LeaseGrant | undefined, times: { sentAt: number; receivedAt: number }): void {
    const state = this.keys.get(key)!;
    state.asking = false;
    if (grant === undefined) {
      // Not counted. The returns are dropped: their permits stay counted until their leases leave the window.
      for (const resolve of [...call.sent, ...state.waiting]) resolve(undefined);
      state.waiting = [];
      this.forgetIfIdle(key, state);
      return;
    }
    const lease: HeldLease = {
      id: `${this.leasePrefix}${call.leaseNumber}`,
      granted: grant.granted,
      used: 0,
      until: times.sentAt + leaseDurationMs(call.policy),
      before: grant.before,
      resetAt: times.receivedAt + grant.resetMs,
    };
    const refusal: WindowDecision = { allowed: false, remaining: Math.max(0, call.policy.limit - grant.before - grant.granted), resetMs: grant.resetMs };
    // The requests of the call were decided by the script, before the lease's score: as of the send.
    for (const resolve of call.sent) resolve(usePermit(lease, times.sentAt, call.policy) ?? refusal);
    // Those that came while it was asked take what is left; with none left, a full key refuses them, else they ask again.
    const now = this.now();
    const late = state.waiting;
    state.waiting = [];
    for (const resolve of late) {
      const decision = usePermit(lease, now, call.policy) ?? (grant.granted < call.sent.length ? refusal : undefined);
      if (decision !== undefined) resolve(decision);
      else state.waiting.push(resolve);
    }
    if (lease.used < lease.granted && now < lease.until && !this.closed) this.hold(key, state, lease);
    else if (lease.used < lease.granted) state.returns.push({ leaseId: lease.id, used: lease.used });
    // Once closed, what is left to give back stays counted until its lease leaves the window.
    if (state.waiting.length > 0 || (state.returns.length > 0 && !this.closed)) this.ask(key, state);
    else this.forgetIfIdle(key, state);
  }

  /** Keeps `lease` for the requests to come; when it ends, its unused permits go back even if none came. */
  private hold(key: string, state: KeyState, lease: HeldLease): void {
    state.lease = lease;
    state.timer = setTimeout(() => {
      state.timer = undefined;
      if (state.lease !== lease) return;
      if (lease.used < lease.granted) this.ask(key, state);
      else this.retireLease(state);
      this.forgetIfIdle(key, state);
    }, lease.until - this.now());
    state.timer.unref();
  }

  private retireLease(state: KeyState): void {
    const lease = state.lease;
    if (lease === undefined) return;
    clearTimeout(state.timer);
    state.timer = undefined;
    state.lease = undefined;
    if (lease.used < lease.granted) state.returns.push({ leaseId: lease.id, used: lease.used });
  }

  /** A key with nothing held, waiting or to give back costs no memory. */
  private forgetIfIdle(key: string, state: KeyState): void {
    if (state.lease === undefined && !state.asking && state.waiting.length === 0 && state.returns.length === 0) this.keys.delete(key);
  }
}

type Resolve = (decision: WindowDecision | undefined) => void;

interface KeyState {
  readonly policy: WindowPolicy;
  lease: HeldLease | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Requests that found no permit, in order, for the next call. */
  waiting: Resolve[];
  /** Unused permits of ended leases, for the next call. */
  returns: LeaseReturn[];
  /** A call for this key is scheduled or in flight. */
  asking: boolean;
}

/** One key's part of a call. */
interface Call {
  readonly policy: WindowPolicy;
  readonly sent: readonly Resolve[];
  readonly returns: readonly LeaseReturn[];
  readonly leaseNumber: number;
}

type WithScript = (Redis | Cluster) & {
  leasePermits(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  leasePermitsOfOneKey(logKey: string, permitsKey: string, ...args: (string | number)[]): Promise<unknown>;
};
