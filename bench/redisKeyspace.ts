import { Redis } from 'ioredis';

/**
 * The Redis keys of one bench run: every server of the run gets a CACHE_PREFIX under the run's unique
 * prefix, so the run can remove exactly its own keys from a Redis that others share (SCAN + UNLINK;
 * never KEYS, which blocks Redis, and never FLUSHALL/FLUSHDB, which would wipe other people's data).
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
      throw new Error(`Redis at ${new URL(url).host} is unreachable: ${(cause ?? (error as Error)).message}`, { cause: error });
    }
    return new RedisKeyspace(redis, `bench:${process.pid}:${Date.now()}:`);
  }

  /**
   * A prefix of its own for one part of the run (`stampede-1:`), inside the run's: whatever the
   * servers given it write starts cold, and is still deleted by {@link deleteAll}.
   */
  subPrefix(name: string): string {
    return `${this.prefix}${name}:`;
  }

  /** Every key under `prefix` (one of this run's), with its size and expiry, taken with SCAN so Redis is never blocked. */
  async census(prefix: string): Promise<KeyCensus[]> {
    if (!prefix.startsWith(this.prefix)) throw new Error(`${prefix} is not under this run's prefix ${this.prefix}`);
    const keys = await this.scan(prefix);
    const census: KeyCensus[] = [];
    for (let at = 0; at < keys.length; at += CENSUS_BATCH) {
      const batch = keys.slice(at, at + CENSUS_BATCH);
      const pipeline = this.redis.pipeline();
      for (const key of batch) pipeline.call('MEMORY', 'USAGE', key).pttl(key);
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((key, i) => {
        const bytes = replies[2 * i]?.[1];
        const pttlMs = replies[2 * i + 1]?.[1];
        // A key that expired between the SCAN and the pipeline answers null and -2: gone, not counted.
        if (typeof bytes === 'number' && typeof pttlMs === 'number' && pttlMs !== -2) census.push({ key, bytes, pttlMs });
      });
    }
    return census;
  }

  /** Deletes every key under the prefix; returns how many there were. */
  async deleteAll(): Promise<number> {
    let deleted = 0;
    const keys = await this.scan(this.prefix);
    for (let at = 0; at < keys.length; at += CENSUS_BATCH) deleted += await this.redis.unlink(...keys.slice(at, at + CENSUS_BATCH));
    return deleted;
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async scan(prefix: string): Promise<string[]> {
    const match = `${escapeGlob(prefix)}*`;
    const keys = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
      // SCAN may return a key more than once.
      for (const key of found) keys.add(key);
      cursor = next;
    } while (cursor !== '0');
    return [...keys];
  }
}

/** One key as {@link RedisKeyspace.census} found it. */
export interface KeyCensus {
  key: string;
  /** MEMORY USAGE: the key, its value and Redis's overhead for them. */
  bytes: number;
  /** PTTL: milliseconds left, or -1 when the key never expires. */
  pttlMs: number;
}

const CENSUS_BATCH = 500;

/** MATCH takes a glob: the prefix must match only itself. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
