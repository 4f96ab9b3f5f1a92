import { Redis } from 'ioredis';

/**
 * The Redis keys of one bench run: every server of the run gets the same unique CACHE_PREFIX, so the
 * run can remove exactly its own keys from a Redis that others share (SCAN + UNLINK; never KEYS,
 * which blocks Redis, and never FLUSHALL/FLUSHDB, which would wipe other people's data).
 */
export class RedisKeyspace {
  private constructor(
    private readonly redis: Redis,
    readonly prefix: string,
  ) {}

  /** Connects (failing fast if Redis is unreachable: the L3 configuration needs it) with a fresh prefix. */
  static async open(url: string): Promise<RedisKeyspace> {
    const redis = new Redis(url, { lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 1, retryStrategy: () => null });
    // connect() only rejects with "Connection is closed"; the cause arrives as an error event.
    let cause: Error | undefined;
    redis.on('error', (error: Error) => (cause = error));
    try {
      await redis.connect();
    } catch (error) {
      throw new Error(`Redis at ${new URL(url).host} is unreachable: ${(cause ?? (error as Error)).message}`);
    }
    return new RedisKeyspace(redis, `bench:${process.pid}:${Date.now()}:`);
  }

  /** Deletes every key under the prefix; returns how many there were. */
  async deleteAll(): Promise<number> {
    const match = `${escapeGlob(this.prefix)}*`;
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      if (keys.length > 0) deleted += await this.redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    return deleted;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** MATCH takes a glob: the prefix must match only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
