import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseDurationMs, permitsKey } from '../../../src/limits/rateLimit/permitLease.ts';
import { RedisWindowCounter } from '../../../src/limits/rateLimit/redisWindowCounter.ts';
import type { WindowPolicy } from '../../../src/limits/rateLimit/slidingWindow.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { uniquePrefix } from '../../support/testApp.ts';
import { ThrowawayCluster } from '../../support/throwawayCluster.ts';

/** A guard that never skips: a failed script must fail the test, not read as "unavailable". */
const transparent = { run: <T>(_fallback: T, call: () => Promise<T>) => call() };

/** A transparent guard that counts the calls to Redis, and fails them once `down` is set. */
function countingGuard() {
  const guard = {
    calls: 0,
    down: false,
    run: <T>(_fallback: T, call: () => Promise<T>) => {
      guard.calls++;
      return guard.down ? Promise.reject(new Error('down')) : call();
    },
  };
  return guard;
}
const POLICY: WindowPolicy = { limit: 25, windowMs: 60_000 };

/** `3 × limit` requests at once, through three connections (three instances), on one key. */
async function burst(redis: Array<Redis | Cluster>, key: string, policy = POLICY) {
  const counters = redis.map((r) => new RedisWindowCounter({ redis: r, guard: transparent }));
  return Promise.all(Array.from({ length: 3 * policy.limit }, (_, i) => counters[i % counters.length]!.count(key, policy)));
}

describe('RedisWindowCounter on one Redis', () => {
  const clients = new RedisClients();
  const prefix = uniquePrefix();
  const used: string[] = [];
  let connections: Redis[];
  const key = (name: string) => {
    const log = `${prefix}{rl:${name}}`;
    used.push(log, permitsKey(log));
    return log;
  };
  beforeAll(async () => {
    connections = await Promise.all([clients.connect(), clients.connect(), clients.connect()]);
  });
  afterAll(async () => {
    if (used.length > 0) await connections[0]?.del(...used);
    clients.disconnectAll();
  });

  it('admits exactly the limit out of three times as many concurrent requests from three connections', async () => {
    const k = key('user:exact');
    const decisions = await burst(connections, k);
    expect(decisions.filter((d) => d!.allowed)).toHaveLength(POLICY.limit);
    // Each admitted request saw a distinct count: remaining runs limit-1 .. 0 exactly once each.
    expect(
      decisions
        .filter((d) => d!.allowed)
        .map((d) => d!.remaining)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: POLICY.limit }, (_, i) => i));
    for (const refused of decisions.filter((d) => !d!.allowed)) {
      expect(refused!.remaining).toBe(0);
      expect(refused!.resetMs).toBeGreaterThan(0);
      // A lease is counted a window after its last possible use.
      expect(refused!.resetMs).toBeLessThanOrEqual(POLICY.windowMs + leaseDurationMs(POLICY));
    }
    // Memory: the leases hold the limit in total, in at most `limit` entries, and both keys expire
    // within one window after the newest lease's last use.
    expect(Number(await connections[0]!.hget(permitsKey(k), 'total'))).toBe(POLICY.limit);
    expect(await connections[0]!.zcard(k)).toBeLessThanOrEqual(POLICY.limit);
    for (const ttl of [await connections[0]!.pttl(k), await connections[0]!.pttl(permitsKey(k))]) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(POLICY.windowMs + leaseDurationMs(POLICY));
    }
  });

  it('decides most requests in the process: a key far from its limit asks Redis once per lease', async () => {
    const k = key('user:hot');
    const guard = countingGuard();
    const counter = new RedisWindowCounter({ redis: connections[0]!, guard });
    const policy = { limit: 1000, windowMs: 60_000 };
    const decisions = [];
    for (let i = 0; i < 200; i++) decisions.push(await counter.count(k, policy));
    expect(decisions.every((d) => d!.allowed)).toBe(true);
    // Leases of 125 (an eighth of 1000), then 109 (of 875): two calls for 200 requests.
    expect(guard.calls).toBe(2);
    expect(decisions.map((d) => d!.remaining)).toEqual(Array.from({ length: 200 }, (_, i) => policy.limit - 1 - i));
  });

  it("gives a quiet instance's unused permits back when its lease ends, so that another reaches the limit", async () => {
    const k = key('user:quiet');
    const policy = { limit: 80, windowMs: 60_000 };
    const [quiet, busy] = connections.map((r) => new RedisWindowCounter({ redis: r, guard: transparent }));
    // The quiet instance takes a lease of 10 (an eighth of 80), uses one, and sees no more traffic.
    expect((await quiet!.count(k, policy))!.allowed).toBe(true);
    const first = await Promise.all(Array.from({ length: 2 * policy.limit }, () => busy!.count(k, policy)));
    expect(first.filter((d) => d!.allowed)).toHaveLength(policy.limit - 10);
    // Its lease ends (leaseDurationMs, 250 ms here) and its 9 unused permits go back, unasked.
    const deadline = performance.now() + 5000;
    while (Number(await connections[0]!.hget(permitsKey(k), 'total')) !== policy.limit - 9) {
      expect(performance.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await Promise.all(Array.from({ length: 2 * policy.limit }, () => busy!.count(k, policy)));
    expect(second.filter((d) => d!.allowed)).toHaveLength(9);
    expect(Number(await connections[0]!.hget(permitsKey(k), 'total'))).toBe(policy.limit);
  });

  it('gives every unused permit back on close', async () => {
    const k = key('user:close');
    const counter = new RedisWindowCounter({ redis: connections[0]!, guard: transparent });
    const policy = { limit: 80, windowMs: 60_000 };
    expect((await counter.count(k, policy))!.allowed).toBe(true);
    expect(Number(await connections[0]!.hget(permitsKey(k), 'total'))).toBe(10);
    await counter.close();
    expect(Number(await connections[0]!.hget(permitsKey(k), 'total'))).toBe(1);
  });

  it('keeps using the permits in hand while Redis fails, until they are used up', async () => {
    const k = key('user:down');
    const guard = countingGuard();
    const counter = new RedisWindowCounter({ redis: connections[0]!, guard });
    const policy = { limit: 100, windowMs: 60_000 };
    expect((await counter.count(k, policy))!.allowed).toBe(true);
    guard.down = true;
    // The lease was 12: 11 more from it, then the down behaviour (undefined).
    const decisions = [];
    for (let i = 0; i < 12; i++) decisions.push(await counter.count(k, policy));
    expect(decisions.slice(0, 11).every((d) => d?.allowed)).toBe(true);
    expect(decisions[11]).toBeUndefined();
  });

  it('a second burst of the limit right after the first is refused whole: no boundary resets the count', async () => {
    const k = key('user:burst');
    const [counter] = connections.map((r) => new RedisWindowCounter({ redis: r, guard: transparent }));
    const first = await Promise.all(Array.from({ length: POLICY.limit }, () => counter!.count(k, POLICY)));
    const second = await Promise.all(Array.from({ length: POLICY.limit }, () => counter!.count(k, POLICY)));
    expect(first.every((d) => d!.allowed)).toBe(true);
    expect(second.some((d) => d!.allowed)).toBe(false);
  });

  it('frees room when the oldest request leaves a short window', async () => {
    const k = key('user:short');
    const counter = new RedisWindowCounter({ redis: connections[0]!, guard: transparent });
    const policy = { limit: 2, windowMs: 300 };
    expect((await counter.count(k, policy))!.allowed).toBe(true);
    expect((await counter.count(k, policy))!.allowed).toBe(true);
    const refused = (await counter.count(k, policy))!;
    expect(refused.allowed).toBe(false);
    // Waits for what the refusal said, on Redis's clock: then exactly one more is admitted.
    await new Promise((resolve) => setTimeout(resolve, refused.resetMs + 5));
    const after = (await counter.count(k, policy))!;
    expect(after.allowed).toBe(true);
  });
});

describe('RedisWindowCounter on Redis Cluster', () => {
  let cluster: ThrowawayCluster;
  let clients: Cluster[];
  beforeAll(async () => {
    cluster = await ThrowawayCluster.start();
    clients = await Promise.all([0, 1, 2].map(() => cluster.connect({ enableAutoPipelining: true })));
  }, 60_000);
  afterAll(async () => {
    for (const client of clients ?? []) client.disconnect();
    await cluster?.stop();
  });

  it('is exact on every key, wherever its slot is (the script, EVALSHA then EVAL, runs on the node of its key pair)', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `rl:{rl:user:${i}}`);
    const slots = new Set(await Promise.all(keys.map((k) => clients[0]!.cluster('KEYSLOT', k))));
    expect(slots.size).toBeGreaterThan(1);
    const results = await Promise.all(keys.map((k) => burst(clients, k, { limit: 10, windowMs: 60_000 })));
    for (const decisions of results) expect(decisions.filter((d) => d!.allowed)).toHaveLength(10);
  });
});
