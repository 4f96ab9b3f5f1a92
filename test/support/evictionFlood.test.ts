import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient, waitUntilReady } from '../../src/cache/tiers/redisClient.ts';
import { floodForeignKeys } from './evictionFlood.ts';
import { ThrowawayRedis, type ThrowawayRedisOptions } from './throwawayRedis.ts';

const DEADLINE_MS = 15_000;

describe('floodForeignKeys', () => {
  const servers: ThrowawayRedis[] = [];
  const clients: Redis[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) await closeRedisClient(client);
    for (const server of servers.splice(0)) await server.stop();
  });

  async function redisWith(options: ThrowawayRedisOptions): Promise<Redis> {
    const server = await ThrowawayRedis.start(options);
    servers.push(server);
    const client = createRedisClient({ url: server.url, commandTimeoutMs: 1000 });
    client.on('error', () => {});
    clients.push(client);
    expect(await waitUntilReady(client, DEADLINE_MS)).toBe(true);
    return client;
  }

  it("under a 2mb allkeys-lru maxmemory, evicts keys, the app's among them", async () => {
    const redis = await redisWith({ maxmemory: '2mb', maxmemoryPolicy: 'allkeys-lru' });
    const own = Array.from({ length: 50 }, (_, i) => `app:${i}`);
    for (const key of own) await redis.set(key, 'v'.repeat(1024));

    // Several times what 2mb holds, so that the app's keys, the least recently used, must go.
    const result = await floodForeignKeys(redis, { prefix: 'other-app:', valueBytes: 1024, untilEvicted: 5000, maxMs: DEADLINE_MS });

    expect(result.stoppedBy).toBe('evicted');
    expect(result.evicted).toBeGreaterThanOrEqual(5000);
    expect(await redis.dbsize()).toBeLessThan(result.written + own.length);
    expect(await redis.exists(...own)).toBeLessThan(own.length);
  });

  it('stops when told to', async () => {
    const redis = await redisWith({ maxmemory: '2mb', maxmemoryPolicy: 'allkeys-lru' });
    const controller = new AbortController();
    const flooding = floodForeignKeys(redis, { maxKeys: 10_000_000, maxMs: 60_000, signal: controller.signal });
    // One round trip later, while the flood runs beside the test.
    await redis.ping();
    controller.abort();
    expect((await flooding).stoppedBy).toBe('signal');
  });

  it('without a memory limit, writes maxKeys keys and evicts nothing', async () => {
    const redis = await redisWith({});
    const result = await floodForeignKeys(redis, { prefix: 'other-app:', maxKeys: 250, batchSize: 100 });
    expect(result).toEqual({ written: 250, evicted: 0, stoppedBy: 'maxKeys' });
    expect(await redis.dbsize()).toBe(250);
  });

  it('under noeviction, stops at the first write Redis refuses', async () => {
    const redis = await redisWith({ maxmemory: '2mb', maxmemoryPolicy: 'noeviction' });
    const result = await floodForeignKeys(redis, { maxMs: DEADLINE_MS });
    expect(result.stoppedBy).toBe('oom');
    expect(result.evicted).toBe(0);
    expect(await redis.dbsize()).toBe(result.written);
  });

  it('refuses a value size that is not a positive integer', async () => {
    const redis = await redisWith({});
    await expect(floodForeignKeys(redis, { valueBytes: 0 })).rejects.toThrow(/valueBytes/);
  });
});
