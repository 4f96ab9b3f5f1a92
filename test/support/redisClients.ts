import type { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { closeRedisClient, createRedisClient, waitUntilReady } from '../../src/cache/tiers/redisClient.ts';
import { redisUrl } from './services.ts';
import { freePort } from './ports.ts';
import { deletePrefix, uniquePrefix } from './testApp.ts';

/**
 * A connection to the run's Redis, made as the app makes it and ready, and a key prefix of the test
 * file's own: after the file's tests, the connection is closed and the prefix's keys deleted.
 */
export async function useSharedRedis(): Promise<{ redis: Redis; prefix: string }> {
  const prefix = uniquePrefix();
  const redis = createRedisClient({ url: redisUrl, commandTimeoutMs: 1000 });
  await waitUntilReady(redis, 5000);
  afterAll(async () => {
    await closeRedisClient(redis);
    await deletePrefix(prefix);
  });
  return { redis, prefix };
}

/** Connections made as the app makes them, for tier tests; `disconnectAll()` closes every one. */
export class RedisClients {
  private readonly clients: Redis[] = [];

  /** Without an offline queue, commands sent before the client is up fail (by design): wait for it. */
  async connect(url = redisUrl, options = { waitMs: 5000 }): Promise<Redis> {
    const redis = createRedisClient({ url, commandTimeoutMs: 1000 });
    redis.on('error', () => {});
    this.clients.push(redis);
    if (options.waitMs > 0) await waitUntilReady(redis, options.waitMs);
    return redis;
  }

  /** A connection to a port nothing listens on: it never becomes ready, so nobody waits for it. */
  async connectToNothing(): Promise<Redis> {
    return this.connect(`redis://127.0.0.1:${await freePort()}`, { waitMs: 0 });
  }

  disconnectAll(): void {
    for (const client of this.clients) client.disconnect();
  }
}
