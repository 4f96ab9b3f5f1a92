import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ApolloServerPlugin } from '@apollo/server';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';
import { startTestApp } from '../support/testApp.ts';

/**
 * A start that fails part-way (here Apollo's, as when a plugin's serverWillStart throws) closes
 * every connection it had opened: the cache's Redis client and subscriber, the views Redis and the
 * flusher's connection, and the database pool.
 */
describe('a failed start', () => {
  let redis: ThrowawayRedis;
  let admin: Redis;

  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
    admin = new Redis(redis.url);
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('closes every connection it opened, then rejects with the cause', async () => {
    const applicationName = `failed-start-${process.pid}-${Date.now()}`;
    const databaseUrl = new URL(inject('databaseUrl'));
    databaseUrl.searchParams.set('application_name', applicationName);
    const opened: { redis: number; postgres: number }[] = [];
    const failing: ApolloServerPlugin<any> = {
      async serverWillStart() {
        opened.push({ redis: await otherRedisClients(admin), postgres: await postgresConnections(applicationName) });
        throw new Error('a plugin failed to start');
      },
    };

    await expect(startTestApp({ REDIS_URL: redis.url, DATABASE_URL: databaseUrl.toString() }, { plugins: [failing] })).rejects.toThrow('a plugin failed to start');

    // The cache client, its subscriber, the views client and the flusher's were all open, and the pool
    // held the connection of the startup check.
    expect(opened).toHaveLength(1);
    expect(opened[0]!.redis).toBe(4);
    expect(opened[0]!.postgres).toBeGreaterThan(0);
    // Both servers notice a closed connection a moment after the client closes it.
    await expect.poll(() => otherRedisClients(admin), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => postgresConnections(applicationName), { timeout: 10_000 }).toBe(0);
  });
});

/** Connections to the throwaway Redis other than the test's own. */
async function otherRedisClients(admin: Redis): Promise<number> {
  const list = (await admin.client('LIST')) as string;
  return list.split('\n').filter((line) => line.length > 0).length - 1;
}

async function postgresConnections(applicationName: string): Promise<number> {
  const client = new pg.Client({ connectionString: inject('databaseUrl') });
  await client.connect();
  try {
    const result = await client.query<{ n: string }>('SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName]);
    return Number(result.rows[0]?.n);
  } finally {
    await client.end();
  }
}
