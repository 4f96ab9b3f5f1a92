import type { Redis } from 'ioredis';
import { createRedisClient, waitUntilReady } from '../../src/cache/tiers/redisClient.ts';
import { redisUrl } from './services.ts';
import { freePort } from './ports.ts';

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
