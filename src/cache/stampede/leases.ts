import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import type { CacheKeys } from '../keys.ts';
import type { TierGuard } from '../tiers/tierGuard.ts';

export interface LeasesOptions {
  redis: Redis | Cluster;
  guard: Pick<TierGuard, 'run'>;
  keys: CacheKeys;
  /** How long a lease lasts if its holder never releases it (it died): the others then load. */
  leaseMs: number;
}

/** A lease on one key: the token proves the holder. */
export interface Lease {
  readonly key: string;
  readonly token: string;
}

/**
 * Cross-instance stampede control: on a miss in the shared tier, one instance takes a short lease per
 * key (SET NX PX with a random token) and loads; the others wait for its fill. A lease expires by
 * itself if its holder dies. Releasing checks the token in one script, so an instance whose lease
 * expired never deletes the lease another instance has taken since.
 *
 * When Redis does not answer, every lease is granted: each instance loads for itself, which is
 * slower, never wrong.
 */
export class Leases {
  private readonly redis: WithScripts;

  constructor(private readonly options: LeasesOptions) {
    this.redis = options.redis as WithScripts;
    if (!('releaseLease' in this.redis)) options.redis.defineCommand('releaseLease', { numberOfKeys: 1, lua: RELEASE });
  }

  /** Tries to take a lease on each key; `undefined` where another instance holds one. */
  async acquire(keys: readonly string[]): Promise<(Lease | undefined)[]> {
    const tokens = keys.map(() => randomBytes(12).toString('base64url'));
    const replies = await this.options.guard.run(undefined, () =>
      // One pipeline: these leave in the same tick.
      Promise.all(keys.map((key, i) => this.options.redis.set(this.options.keys.lease(key), tokens[i] as string, 'PX', this.options.leaseMs, 'NX'))),
    );
    if (replies === undefined) return keys.map((key, i) => ({ key, token: tokens[i] as string }));
    return replies.map((reply, i) => (reply === 'OK' ? { key: keys[i] as string, token: tokens[i] as string } : undefined));
  }

  /** Releases leases this instance holds; a lease that has since passed to another holder is left alone. */
  async release(leases: readonly Lease[]): Promise<void> {
    if (leases.length === 0) return;
    await this.options.guard.run(undefined, async () => {
      await Promise.all(leases.map((lease) => this.redis.releaseLease(this.options.keys.lease(lease.key), lease.token)));
    });
  }
}

// Private:

type WithScripts = (Redis | Cluster) & { releaseLease(key: string, token: string): Promise<number> };

/** Deletes the lease only if it still holds our token: check and delete in one atomic step. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
