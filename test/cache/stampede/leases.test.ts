import { afterAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import type { Redis } from 'ioredis';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { Leases } from '../../../src/cache/stampede/leases.ts';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { ThrowawayRedis } from '../../support/throwawayRedis.ts';

const prefix = uniquePrefix();
const keys = new CacheKeys(prefix);
const logger = pino({ level: 'silent' });
const clients = new RedisClients();
const connect = clients.connect.bind(clients);
const connectToNothing = clients.connectToNothing.bind(clients);

/** The leases of one instance: its own connection, its own guard. */
async function instance(options: { leaseMs?: number; url?: string; redis?: Redis } = {}): Promise<Leases> {
  const redis = options.redis ?? (await connect(options.url));
  return new Leases({ redis, guard: new TierGuard({ tier: 'L3', logger }), keys, leaseMs: options.leaseMs ?? 10_000 });
}

/** Waits until Redis has expired `key` by its own clock, which no test can inject. */
async function untilExpired(redis: Redis, key: string): Promise<void> {
  while ((await redis.pttl(key)) !== -2) await sleep(5);
}

const observer = await connect();

afterAll(async () => {
  await deletePrefix(prefix);
  clients.disconnectAll();
});

describe('Leases', () => {
  it('gives each key to exactly one of many concurrent instances', async () => {
    const fleet = await Promise.all(Array.from({ length: 6 }, () => instance()));
    const wanted = ['k:a', 'k:b', 'k:c', 'k:d'];
    const grants = await Promise.all(fleet.map((leases) => leases.acquire(wanted)));
    wanted.forEach((key, i) => {
      const holders = grants.filter((granted) => granted[i] !== undefined);
      expect(holders, key).toHaveLength(1);
      expect(holders[0]![i]!.key).toBe(key);
    });
    for (const [i, leases] of fleet.entries()) await leases.release(grants[i]!.filter((lease) => lease !== undefined));
  });

  it('one key that is held does not stop the others of a batch from being granted', async () => {
    const [first, second] = [await instance(), await instance()];
    const [held] = await first.acquire(['batch:1']);
    const granted = await second.acquire(['batch:1', 'batch:2']);
    expect(held).toBeDefined();
    expect(granted[0]).toBeUndefined();
    expect(granted[1]?.key).toBe('batch:2');
    await first.release([held!]);
    await second.release([granted[1]!]);
  });

  it('a released lease can be taken at once by another instance', async () => {
    const [first, second] = [await instance(), await instance()];
    const [lease] = await first.acquire(['released']);
    expect(await second.acquire(['released'])).toEqual([undefined]);
    await first.release([lease!]);
    expect(await observer.exists(keys.lease('released'))).toBe(0);
    const [taken] = await second.acquire(['released']);
    expect(taken?.key).toBe('released');
    await second.release([taken!]);
  });

  it('expires by itself when its holder never releases it', async () => {
    const holder = await instance({ leaseMs: 50 });
    await holder.acquire(['abandoned']);
    const ttl = await observer.pttl(keys.lease('abandoned'));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(50);
  });

  it('releasing with a stale token, after the lease expired and another took it, leaves the other’s lease', async () => {
    const slow = await instance({ leaseMs: 30 });
    const next = await instance();
    const [stale] = await slow.acquire(['contended']);
    await untilExpired(observer, keys.lease('contended'));
    const [current] = await next.acquire(['contended']);
    expect(current).toBeDefined();
    await slow.release([stale!]);
    expect(await observer.get(keys.lease('contended'))).toBe(current!.token);
    expect(await slow.acquire(['contended'])).toEqual([undefined]);
    await next.release([current!]);
    expect(await observer.exists(keys.lease('contended'))).toBe(0);
  });
});

describe('Leases when Redis does not answer', () => {
  it('grants every lease when nothing listens on the port, and releasing does not throw', async () => {
    const leases = await instance({ redis: await connectToNothing() });
    const granted = await leases.acquire(['x', 'y']);
    expect(granted.map((lease) => lease?.key)).toEqual(['x', 'y']);
    await leases.release(granted.filter((lease) => lease !== undefined));
  });

  it('grants every lease once the server is killed, even those another instance held', async () => {
    const server = await ThrowawayRedis.start();
    try {
      const [first, second] = [await instance({ url: server.url }), await instance({ url: server.url })];
      const [held] = await first.acquire(['k']);
      expect(held).toBeDefined();
      expect(await second.acquire(['k'])).toEqual([undefined]);
      await server.kill();
      // Each instance then loads for itself: slower, never wrong.
      expect((await second.acquire(['k', 'j'])).map((lease) => lease?.key)).toEqual(['k', 'j']);
      await first.release([held!]);
    } finally {
      await server.kill();
    }
  });
});
