import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { TierGuard } from '../../cache/tiers/tierGuard.ts';
import { decisionInBatch, keyReplies, SLIDING_WINDOW_SCRIPT, type WindowDecision, type WindowPolicy } from './slidingWindow.ts';
import type { WindowCounter } from './windowCounter.ts';

export interface RedisWindowCounterOptions {
  /** A connection of the limiter's own (see app.ts), a Redis or a Cluster. */
  redis: Redis | Cluster;
  /** Bounds every call by the command timeout, and skips Redis for a second after a failure. */
  guard: Pick<TierGuard, 'run'>;
}

/**
 * The logs in Redis, shared by every instance. The requests that arrive in one turn of the event
 * loop are counted together: one EVALSHA ({@link SLIDING_WINDOW_SCRIPT}, defined with ioredis's
 * defineCommand, which sends the script itself once after a NOSCRIPT) per turn, and per key on a
 * Cluster, instead of one per request. Each request is still decided in Redis, atomically and in
 * order, so the count stays exact across instances; what it saves is the round trip's cost per
 * request, which on a warm response-tier hit is most of the work.
 */
export class RedisWindowCounter implements WindowCounter {
  private readonly redis: WithScript;
  /** Members must be unique across the fleet: this instance's random prefix, then a sequence number. */
  private readonly memberPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;
  /** The requests waiting for this turn's call, by key. */
  private pending: Map<string, Waiting> | undefined;

  constructor(private readonly options: RedisWindowCounterOptions) {
    this.redis = options.redis as WithScript;
    // A Cluster gets the one-key form: its auto-pipelining routes a command by its first argument,
    // which must then be the key (the variable form starts with the number of keys).
    if (!('slidingWindow' in this.redis)) options.redis.defineCommand('slidingWindow', { lua: SLIDING_WINDOW_SCRIPT });
    if (!('slidingWindowOfOneKey' in this.redis)) options.redis.defineCommand('slidingWindowOfOneKey', { lua: SLIDING_WINDOW_SCRIPT, numberOfKeys: 1 });
  }

  count(key: string, policy: WindowPolicy): Promise<WindowDecision | undefined> {
    return new Promise((resolve) => {
      if (!this.pending) {
        this.pending = new Map();
        // After the poll phase: every request whose bytes arrived in this turn has asked by then.
        setImmediate(() => this.flush());
      }
      const waiting = this.pending.get(key) ?? { policy, resolvers: [] };
      waiting.resolvers.push(resolve);
      this.pending.set(key, waiting);
    });
  }

  // Private:

  private flush(): void {
    const batch = this.pending;
    this.pending = undefined;
    if (!batch) return;
    const keys = [...batch.keys()];
    const groups = this.options.redis.isCluster ? keys.map((key) => [key]) : [keys];
    for (const group of groups) void this.countGroup(group, batch);
  }

  /** One call for `keys` (one slot); never rejects: a failure answers every request `undefined`. */
  private async countGroup(keys: readonly string[], batch: ReadonlyMap<string, Waiting>): Promise<void> {
    const args: (string | number)[] = [this.memberPrefix];
    for (const key of keys) {
      const { policy, resolvers } = batch.get(key)!;
      args.push(policy.limit, policy.windowMs, resolvers.length, this.sequence);
      this.sequence += resolvers.length;
    }
    const call = () => (keys.length === 1 ? this.redis.slidingWindowOfOneKey(keys[0]!, ...args) : this.redis.slidingWindow(keys.length, ...keys, ...args));
    const replies = await this.options.guard.run(undefined, async () => keyReplies(await call(), keys.length)).catch(() => undefined);
    keys.forEach((key, k) => {
      const { policy, resolvers } = batch.get(key)!;
      const reply = replies?.[k];
      resolvers.forEach((resolve, i) => resolve(reply ? decisionInBatch(reply, i, policy) : undefined));
    });
  }
}

interface Waiting {
  readonly policy: WindowPolicy;
  readonly resolvers: ((decision: WindowDecision | undefined) => void)[];
}

type WithScript = (Redis | Cluster) & {
  slidingWindow(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  slidingWindowOfOneKey(key: string, ...args: (string | number)[]): Promise<unknown>;
};
