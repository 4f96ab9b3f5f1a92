import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisWindowCounter } from '../../../src/limits/rateLimit/redisWindowCounter.ts';
import type { WindowPolicy } from '../../../src/limits/rateLimit/slidingWindow.ts';
import { RedisClients } from '../../support/redisClients.ts';
import { uniquePrefix } from '../../support/testApp.ts';
import { ThrowawayCluster } from '../../support/throwawayCluster.ts';

/** A guard that never skips: a failed script must fail the test, not read as "unavailable". */
const transparent = { run: <T>(_fallback: T, call: () => Promise<T>) => call() };
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
    used.push(`${prefix}{rl:${name}}`);
    return used.at(-1)!;
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
      expect(refused!.resetMs).toBeLessThanOrEqual(POLICY.windowMs);
    }
    // Memory: the key holds at most `limit` members and expires within one window.
    expect(await connections[0]!.zcard(k)).toBe(POLICY.limit);
    const ttl = await connections[0]!.pttl(k);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(POLICY.windowMs);
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

  it('is exact on every key, wherever its slot is (the script, EVALSHA then EVAL, runs on the node of its one key)', async () => {
    const keys = Array.from({ length: 6 }, (_, i) => `rl:{rl:user:${i}}`);
    const slots = new Set(await Promise.all(keys.map((k) => clients[0]!.cluster('KEYSLOT', k))));
    expect(slots.size).toBeGreaterThan(1);
    const results = await Promise.all(keys.map((k) => burst(clients, k, { limit: 10, windowMs: 60_000 })));
    for (const decisions of results) expect(decisions.filter((d) => d!.allowed)).toHaveLength(10);
  });
});
