import type { Cluster } from 'ioredis';
import { permitsKey } from '../../src/limits/rateLimit/permitLease.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, uniquePrefix, type TestApp } from '../support/testApp.ts';
import { ThrowawayCluster } from '../support/throwawayCluster.ts';
import { tokensFor } from '../support/tokens.ts';

const LIMIT = 15;
const QUERY = '{ product(id: 1) { id name } }';

/**
 * The limiter on a Redis Cluster: each viewer's key is hash-tagged (`{rl:user:<id>}`), so its
 * script's one key has one slot, and different viewers land on different nodes.
 */
describe('rate limit on Redis Cluster', () => {
  let cluster: ThrowawayCluster;
  let client: Cluster;
  let app: TestApp;
  const prefix = uniquePrefix();
  beforeAll(async () => {
    cluster = await ThrowawayCluster.start();
    client = await cluster.connect();
    app = await startTestApp({
      REDIS_URL: undefined,
      REDIS_CLUSTER_NODES: cluster.startupNodes.map((node) => `${node.host}:${node.port}`).join(','),
      CACHE_PREFIX: prefix,
      CACHE_TIERS: 'l1,l2',
      // This test is about slots: a busy machine's slow answer must not open the limiter (see rateLimitRedisDown).
      REDIS_COMMAND_TIMEOUT_MS: '5000',
      RATE_LIMIT: 'on',
      RATE_LIMIT_REQUESTS: String(LIMIT),
      RATE_LIMIT_WINDOW_SECONDS: '300',
    });
  }, 60_000);
  afterAll(async () => {
    await app?.stop();
    client?.disconnect();
    await cluster?.stop();
  });

  it("admits exactly each viewer's limit, each viewer's log in its hash-tagged key on its own slot", async () => {
    const userIds = [1, 2, 3, 4, 5, 6];
    const tokens = await tokensFor(...userIds);
    const answers = await Promise.all(tokens.flatMap((token) => Array.from({ length: 3 * LIMIT }, () => app.query(QUERY, undefined, token).then((a) => ({ token, status: a.status })))));
    expect(app.logs.filter((line) => line.msg.startsWith("rate limiter's Redis unavailable"))).toEqual([]);
    for (const token of tokens) {
      const mine = answers.filter((a) => a.token === token);
      expect(mine.filter((a) => a.status === 200)).toHaveLength(LIMIT);
      expect(mine.filter((a) => a.status === 429)).toHaveLength(2 * LIMIT);
    }
    const keys = userIds.map((id) => `${prefix}{rl:user:${id}}`);
    for (const key of keys) expect(Number(await client.hget(permitsKey(key), 'total'))).toBe(LIMIT);
    const slots = await Promise.all(keys.map((key) => client.cluster('KEYSLOT', key)));
    // A key's permit hash is on its log's slot: the script's two keys are one slot.
    for (const [i, key] of keys.entries()) expect(await client.cluster('KEYSLOT', permitsKey(key))).toBe(slots[i]);
    // The slot is the tag's alone: the prefix does not move it.
    expect(slots[0]).toBe(await client.cluster('KEYSLOT', '{rl:user:1}'));
    expect(new Set(slots).size).toBeGreaterThan(1);
  });
});
