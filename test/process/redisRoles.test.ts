import type { Cluster, Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkRedisRoles } from '../../src/process/redisRoles.ts';
import { RedisClients } from '../support/redisClients.ts';
import { ThrowawayCluster } from '../support/throwawayCluster.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';
import { capturingLogger } from '../views/viewFixtures.ts';

/** The recommended views store (docker-compose's redis-views). */
const VIEWS_STORE = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--maxmemory-policy', 'noeviction'];
// docker-compose's cache Redis, as the views store by mistake.
const LRU_CACHE = ['--maxmemory', '64mb', '--maxmemory-policy', 'allkeys-lru'];

/** The startup check against real redis-server processes, each with the settings under test. */
describe('checkRedisRoles', () => {
  const servers: ThrowawayRedis[] = [];
  const clients = new RedisClients();

  afterEach(async () => {
    clients.disconnectAll();
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  /** A redis-server with `args`, and a connection to it made as the app makes its own. */
  async function redisWith(args: string[]): Promise<{ server: ThrowawayRedis; redis: Redis }> {
    const server = await ThrowawayRedis.start({ extraArgs: args });
    servers.push(server);
    return { server, redis: await clients.connect(server.url) };
  }

  async function check(connections: { cache?: Redis | Cluster; views?: Redis | Cluster }) {
    const { logger, lines } = capturingLogger();
    const warnings = await checkRedisRoles(connections, { logger, timeoutMs: 1000 });
    return { warnings, logged: lines as Array<Record<string, unknown>> };
  }

  it('warns, at warn level, about a views store that evicts and keeps nothing on disk', async () => {
    const { server, redis } = await redisWith(LRU_CACHE);
    const { warnings, logged } = await check({ views: redis });
    expect(warnings.map((w) => [w.code, w.setting, w.value])).toEqual([
      ['VIEWS_EVICTION', 'maxmemory-policy', 'allkeys-lru'],
      ['VIEWS_NOT_PERSISTED', 'appendonly', 'no'],
    ]);
    expect(logged).toEqual(
      warnings.map((w) => expect.objectContaining({ level: 40, component: 'redisRoles', code: w.code, role: 'views', setting: w.setting, value: w.value, node: `127.0.0.1:${server.port}`, msg: w.message })),
    );
    expect(logged[0]?.msg).toMatch(/^views Redis has maxmemory-policy allkeys-lru .*silently drop buffered views.*; set maxmemory-policy noeviction/);
  });

  it('warns about a views store with RDB snapshots only, and one that was never told to persist', async () => {
    const { redis: snapshots } = await redisWith(['--save', '60 1']);
    expect((await check({ views: snapshots })).warnings.map((w) => w.code)).toEqual(['VIEWS_SNAPSHOTS_ONLY']);
    const { redis: bare } = await redisWith(['--maxmemory-policy', 'noeviction']);
    expect((await check({ views: bare })).warnings.map((w) => w.code)).toEqual(['VIEWS_NOT_PERSISTED']);
  });

  it('says nothing about a views store with AOF and noeviction', async () => {
    const { redis } = await redisWith(VIEWS_STORE);
    const { warnings, logged } = await check({ views: redis });
    expect(warnings).toEqual([]);
    expect(logged).toEqual([]);
  });

  it('warns about a cache with noeviction and a maxmemory, and not about a bounded LRU one', async () => {
    const { server, redis } = await redisWith(['--maxmemory', '64mb', '--maxmemory-policy', 'noeviction']);
    const { warnings, logged } = await check({ cache: redis });
    expect(warnings).toEqual([expect.objectContaining({ code: 'CACHE_NOEVICTION', role: 'cache', setting: 'maxmemory-policy', value: 'noeviction', node: `127.0.0.1:${server.port}` })]);
    expect(logged).toEqual([expect.objectContaining({ level: 40, role: 'cache', msg: expect.stringMatching(/^cache Redis has maxmemory-policy noeviction .*every cache write fails/) })]);

    const { redis: lru } = await redisWith(LRU_CACHE);
    expect((await check({ cache: lru })).warnings).toEqual([]);
  });

  it('checks each role against its own Redis', async () => {
    const { redis: cache } = await redisWith(LRU_CACHE);
    const { redis: views } = await redisWith(VIEWS_STORE);
    expect((await check({ cache, views })).warnings).toEqual([]);
    // Swapped, each Redis breaks the other role's promise.
    expect((await check({ cache: views, views: cache })).warnings.map((w) => `${w.role} ${w.code}`)).toEqual(['cache CACHE_UNBOUNDED', 'views VIEWS_EVICTION', 'views VIEWS_NOT_PERSISTED']);
  });

  it('warns that it could not check a Redis whose CONFIG is disabled, and resolves', async () => {
    const { redis } = await redisWith(['--rename-command', 'CONFIG', '']);
    const { warnings, logged } = await check({ cache: redis, views: redis });
    expect(warnings.map((w) => [w.role, w.code, w.setting])).toEqual([
      ['cache', 'CHECK_UNAVAILABLE', 'CONFIG'],
      ['views', 'CHECK_UNAVAILABLE', 'CONFIG'],
    ]);
    expect(warnings[0]?.value).toMatch(/unknown command/i);
    expect(logged.map((line) => line.msg)).toEqual(warnings.map((w) => w.message));
  });

  it('gives up on a Redis that does not answer after timeoutMs, and says so', async () => {
    const { server, redis } = await redisWith(VIEWS_STORE);
    server.pause();
    try {
      const { logger } = capturingLogger();
      const warnings = await checkRedisRoles({ views: redis }, { logger, timeoutMs: 200 });
      expect(warnings).toEqual([expect.objectContaining({ code: 'CHECK_UNAVAILABLE', value: 'no answer within 200 ms' })]);
    } finally {
      server.resume();
    }
  });

  describe('on a Redis Cluster', () => {
    let cluster: ThrowawayCluster | undefined;
    afterAll(async () => {
      await cluster?.stop();
    });

    it('checks every master', async () => {
      cluster = await ThrowawayCluster.start();
      const client = await cluster.connect();
      try {
        const { warnings } = await check({ views: client });
        // The throwaway cluster keeps nothing on disk: each master says so, once.
        expect(warnings.map((w) => w.code)).toEqual(['VIEWS_NOT_PERSISTED', 'VIEWS_NOT_PERSISTED', 'VIEWS_NOT_PERSISTED']);
        expect(warnings.map((w) => w.node).sort()).toEqual(cluster.ports.map((port) => `127.0.0.1:${port}`).sort());
      } finally {
        client.disconnect();
      }
    }, 60_000);
  });
});
