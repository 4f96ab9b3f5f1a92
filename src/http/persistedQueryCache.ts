import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { Cluster, Redis } from 'ioredis';
import type { TierGuard } from '../cache/tiers/tierGuard.ts';

/**
 * Apollo's Automatic Persisted Query store in Redis, shared by every instance: a query registered
 * through one instance is known to all, so a CDN's hash-only GET may reach any of them. A Redis
 * failure reads as "not registered" (the client sends the query again), never as an error.
 */
export class PersistedQueryCache implements KeyValueCache<string> {
  constructor(
    private readonly redis: Redis | Cluster,
    private readonly guard: Pick<TierGuard, 'run'>,
    private readonly prefix: string,
  ) {}

  async get(key: string): Promise<string | undefined> {
    return (await this.guard.run(null, () => this.redis.get(this.prefix + key))) ?? undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    await this.guard.run(undefined, async () => {
      const ttl = options?.ttl;
      if (typeof ttl === 'number' && ttl > 0) await this.redis.set(this.prefix + key, value, 'EX', Math.ceil(ttl));
      else await this.redis.set(this.prefix + key, value);
    });
  }

  async delete(key: string): Promise<boolean | void> {
    await this.guard.run(undefined, () => this.redis.del(this.prefix + key));
  }
}
