import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { TierGuard } from '../../cache/tiers/tierGuard.ts';
import { decisionFromReply, SLIDING_WINDOW_SCRIPT, type WindowDecision, type WindowPolicy } from './slidingWindow.ts';
import type { WindowCounter } from './windowCounter.ts';

export interface RedisWindowCounterOptions {
  /** A connection of the limiter's own (see app.ts), a Redis or a Cluster. */
  redis: Redis | Cluster;
  /** Bounds every call by the command timeout, and skips Redis for a second after a failure. */
  guard: Pick<TierGuard, 'run'>;
}

/**
 * The logs in Redis, shared by every instance: one EVALSHA per request ({@link SLIDING_WINDOW_SCRIPT},
 * defined with ioredis's defineCommand, which sends the script itself once after a NOSCRIPT). The
 * key is the script's only key, so on a Cluster it needs no more than the caller's hash tag.
 */
export class RedisWindowCounter implements WindowCounter {
  private readonly redis: WithScript;
  /** Members must be unique across the fleet: this instance's random prefix, then a counter. */
  private readonly memberPrefix = randomBytes(6).toString('base64url');
  private sequence = 0;

  constructor(private readonly options: RedisWindowCounterOptions) {
    this.redis = options.redis as WithScript;
    if (!('slidingWindow' in this.redis)) options.redis.defineCommand('slidingWindow', { numberOfKeys: 1, lua: SLIDING_WINDOW_SCRIPT });
  }

  count(key: string, policy: WindowPolicy): Promise<WindowDecision | undefined> {
    const member = `${this.memberPrefix}${(this.sequence++).toString(36)}`;
    return this.options.guard.run(undefined, async () => decisionFromReply(await this.redis.slidingWindow(key, policy.limit, policy.windowMs, member)));
  }
}

// Private:

type WithScript = (Redis | Cluster) & {
  slidingWindow(key: string, limit: number, windowMs: number, member: string): Promise<unknown>;
};
