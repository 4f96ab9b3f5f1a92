import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../src/cache/tiers/redisClient.ts';
import { Locks, lockKeys } from '../../src/coordination/lock.ts';
import { LockLostError, LockNotAcquiredError, LockUnavailableError } from '../../src/errors.ts';
import { FaultProxy } from '../support/faultProxy.ts';
import { redisUrl } from '../support/services.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';
import { freePort } from '../support/ports.ts';

describe('withLock on Redis', () => {
  const prefix = uniquePrefix();
  const clients: Redis[] = [];
  let redis: Redis;
  let names = 0;
  const lockName = () => `test-${(names += 1)}`;

  /** A client of its own, as another instance would have. */
  function client(): Redis {
    const created = new Redis(redisUrl, { maxRetriesPerRequest: 0 });
    clients.push(created);
    return created;
  }

  beforeAll(() => {
    redis = client();
  });
  afterAll(async () => {
    for (const created of clients) created.disconnect();
    await deletePrefix(prefix);
  });

  it('runs fn holding the lock, gives it a fencing token, and releases after', async () => {
    const locks = new Locks({ redis, prefix });
    const name = lockName();
    const { lock } = lockKeys(prefix, name);

    const first = await locks.withLock(name, 5000, async (lease) => {
      expect(await redis.exists(lock)).toBe(1);
      expect(lease.signal.aborted).toBe(false);
      return lease.fencingToken;
    });
    const second = await locks.withLock(name, 5000, async (lease) => lease.fencingToken);

    expect(await redis.exists(lock)).toBe(0);
    expect(second).toBeGreaterThan(first);
  });

  it('issues a higher token after Redis lost the counter (a restart with nothing on disk)', async () => {
    const locks = new Locks({ redis, prefix });
    const name = lockName();
    const before = await locks.withLock(name, 5000, async (lease) => lease.fencingToken);
    await redis.del(lockKeys(prefix, name).fence);
    const after = await locks.withLock(name, 5000, async (lease) => lease.fencingToken);
    expect(after).toBeGreaterThan(before);
  });

  it('releases when fn throws, and rejects with its error', async () => {
    const locks = new Locks({ redis, prefix });
    const name = lockName();
    await expect(locks.withLock(name, 5000, () => Promise.reject(new Error('fn failed')))).rejects.toThrow('fn failed');
    expect(await redis.exists(lockKeys(prefix, name).lock)).toBe(0);
  });

  it('keeps the lock past its TTL while fn runs, by renewing it', async () => {
    const locks = new Locks({ redis, prefix });
    const name = lockName();
    const { lock } = lockKeys(prefix, name);
    const ttlMs = 1500;

    await locks.withLock(name, ttlMs, async (lease) => {
      const started = performance.now();
      const owner = await redis.get(lock);
      // Waits for renewals themselves (the TTL going up), four of them: every ttl/3, so well past one TTL.
      let renewals = 0;
      let last = await redis.pttl(lock);
      await expect
        .poll(
          async () => {
            const left = await redis.pttl(lock);
            if (left > last) renewals += 1;
            last = left;
            return renewals;
          },
          { timeout: 15_000, interval: 20 },
        )
        .toBeGreaterThanOrEqual(4);
      expect(performance.now() - started).toBeGreaterThan(ttlMs);
      expect(await redis.get(lock)).toBe(owner);
      expect(lease.signal.aborted).toBe(false);
    });
  });

  it('runs contenders one at a time, each with a higher fencing token than the one before', async () => {
    const name = lockName();
    // Five instances, each with its own connection, three turns each.
    const instances = Array.from({ length: 5 }, () => new Locks({ redis: client(), prefix, acquireWaitMs: 20_000 }));
    let inside = 0;
    let mostInside = 0;
    const tokens: number[] = [];
    const turn = (locks: Locks) =>
      locks.withLock(name, 5000, async (lease) => {
        mostInside = Math.max(mostInside, (inside += 1));
        tokens.push(lease.fencingToken);
        // A few round trips, so another contender would have the time to get in.
        for (let i = 0; i < 3; i++) await redis.ping();
        inside -= 1;
      });

    await Promise.all(
      instances.map(async (locks) => {
        for (let i = 0; i < 3; i++) await turn(locks);
      }),
    );

    expect(mostInside).toBe(1);
    expect(tokens).toHaveLength(15);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]!);
  });

  it('gives up after the acquire wait bound with LockNotAcquiredError, and fn never runs', async () => {
    const name = lockName();
    const holder = new Locks({ redis, prefix });
    const contender = new Locks({ redis: client(), prefix, acquireWaitMs: 300 });
    let ran = false;

    await holder.withLock(name, 10_000, async () => {
      const started = performance.now();
      const refused = contender.withLock(name, 10_000, async () => void (ran = true));
      await expect(refused).rejects.toBeInstanceOf(LockNotAcquiredError);
      await expect(refused).rejects.toMatchObject({ code: 'LOCK_NOT_ACQUIRED', lock: name });
      expect(performance.now() - started).toBeGreaterThanOrEqual(300);
    });
    expect(ran).toBe(false);
  });

  it('tells fn through its signal when the lock is lost, and rejects with LockLostError after fn settles', async () => {
    const locks = new Locks({ redis, prefix, renewEveryMs: 20 });
    const name = lockName();
    let settled = false;

    const running = locks.withLock(name, 5000, async (lease) => {
      // Lost as after a failover to a replica that had not seen it.
      await redis.del(lockKeys(prefix, name).lock);
      await new Promise((resolve) => lease.signal.addEventListener('abort', resolve, { once: true }));
      expect(lease.signal.reason).toBeInstanceOf(LockLostError);
      settled = true;
      return 'done';
    });

    await expect(running).rejects.toBeInstanceOf(LockLostError);
    expect(settled).toBe(true);
  });

  it('fails with LockUnavailableError at once when Redis is down', async () => {
    const down = createRedisClient({ url: `redis://127.0.0.1:${await freePort()}`, commandTimeoutMs: 200 });
    down.on('error', () => {});
    try {
      const locks = new Locks({ redis: down, prefix, commandTimeoutMs: 200 });
      const started = performance.now();
      const failed = locks.withLock(lockName(), 5000, async () => 'ran');
      await expect(failed).rejects.toBeInstanceOf(LockUnavailableError);
      await expect(failed).rejects.toThrow(/could not be taken: Redis did not answer/);
      // Far below the 5 s TTL it would otherwise wait out, with room for a busy machine.
      expect(performance.now() - started).toBeLessThan(4000);
    } finally {
      down.disconnect();
    }
  });

  it('fails with LockUnavailableError after the command timeout when Redis hangs', async () => {
    const proxy = await FaultProxy.start({ targetPort: Number(new URL(redisUrl).port || 6379) });
    const hung = createRedisClient({ url: proxy.url, commandTimeoutMs: 300 });
    hung.on('error', () => {});
    try {
      await new Promise((resolve) => hung.once('ready', resolve));
      proxy.set({ kind: 'hang' });
      const locks = new Locks({ redis: hung, prefix, commandTimeoutMs: 300 });
      const started = performance.now();
      const failed = locks.withLock(lockName(), 5000, async () => 'ran');
      await expect(failed).rejects.toBeInstanceOf(LockUnavailableError);
      await expect(failed).rejects.toMatchObject({ code: 'LOCK_UNAVAILABLE', cause: expect.objectContaining({ message: 'no answer within 300 ms' }) });
      const elapsed = performance.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(300);
      expect(elapsed).toBeLessThan(3000);
    } finally {
      hung.disconnect();
      await proxy.close();
    }
  });

  it('refuses invalid options and names, naming them', () => {
    expect(() => new Locks({ redis, prefix: 'a{b}' })).toThrow(/prefix/);
    expect(() => new Locks({ redis, acquireWaitMs: -1 })).toThrow(/acquireWaitMs/);
    expect(() => new Locks({ redis, renewEveryMs: 0 })).toThrow(/renewEveryMs/);
    const locks = new Locks({ redis, prefix });
    return Promise.all([
      expect(locks.withLock('{x}', 1000, async () => {})).rejects.toThrow(/lock name/),
      expect(locks.withLock('x', 0, async () => {})).rejects.toThrow(/ttlMs/),
      expect(new Locks({ redis, prefix, renewEveryMs: 500 }).withLock('x', 500, async () => {})).rejects.toThrow(/ttlMs must be above renewEveryMs/),
    ]);
  });
});
