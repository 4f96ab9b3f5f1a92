import type { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient, waitUntilReady } from '../../src/cache/tiers/redisClient.ts';
import { ThrowawayRedis, type ThrowawayRedisOptions } from './throwawayRedis.ts';

const DEADLINE_MS = 15_000;

describe('ThrowawayRedis', () => {
  const servers: ThrowawayRedis[] = [];
  const clients: Redis[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) await closeRedisClient(client);
    for (const server of servers.splice(0)) await server.stop();
  });

  async function start(options?: ThrowawayRedisOptions): Promise<{ server: ThrowawayRedis; redis: Redis }> {
    const server = await ThrowawayRedis.start(options);
    servers.push(server);
    const redis = createRedisClient({ url: server.url, commandTimeoutMs: 1000 });
    redis.on('error', () => {});
    clients.push(redis);
    expect(await waitUntilReady(redis, DEADLINE_MS)).toBe(true);
    return { server, redis };
  }

  it('comes back empty from a restart, on the same port', async () => {
    const { server, redis } = await start();
    await redis.set('kept?', 'no');
    await server.restart();
    expect(await waitUntilReady(redis, DEADLINE_MS)).toBe(true);
    expect(await redis.dbsize()).toBe(0);
  });

  it('with appendonly, keeps acknowledged writes across a kill and a restart', async () => {
    const { server, redis } = await start({ appendonly: true });
    await redis.set('kept?', 'yes');
    await server.kill();
    await server.restart();
    expect(await waitUntilReady(redis, DEADLINE_MS)).toBe(true);
    expect(await redis.get('kept?')).toBe('yes');
  });

  it('runs with the memory limit and policy asked for', async () => {
    const { redis } = await start({ maxmemory: '2mb', maxmemoryPolicy: 'allkeys-lru', extraArgs: ['--maxmemory-samples', '10'] });
    expect(await redis.config('GET', 'maxmemory')).toEqual(['maxmemory', String(2 * 1024 * 1024)]);
    expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'allkeys-lru']);
    expect(await redis.config('GET', 'maxmemory-samples')).toEqual(['maxmemory-samples', '10']);
  });

  it('stops: its clients see their connection close', async () => {
    const { server, redis } = await start();
    const closed = new Promise((resolve) => redis.once('close', resolve));
    await server.stop();
    await closed;
    expect(redis.status).not.toBe('ready');
  });

  it("fails to start with redis-server's own message when an option is wrong", async () => {
    await expect(ThrowawayRedis.start({ extraArgs: ['--maxmemory-policy', 'sometimes'] })).rejects.toThrow(/maxmemory-policy/);
    await expect(ThrowawayRedis.start({ maxmemory: 'lots' })).rejects.toThrow(/maxmemory must be/);
  });
});
