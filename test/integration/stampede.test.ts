import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { openDatabase } from '../../src/database/database.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';

/**
 * Stampede control, in process (single flight) and across instances (leases): 1,000 concurrent
 * requests for the same cold keys, spread over 3 real server processes, load each key from the
 * database exactly once. Loads are counted from the servers' own "database load" log lines.
 */
/*
 * Four busy Node processes (three servers and this test) share two cores here, and a server's event
 * loop stalls for up to a second while it runs hundreds of requests at once. A Redis call that times
 * out makes a server fall back to loading by itself (slower, never wrong): an extra load, which is
 * what this test counts. A waiter whose lease holder has not filled within CACHE_LEASE_WAIT_MS also
 * loads by itself, by design; on this machine the holder's fill once took longer than the 1 s
 * default (log: "wait-timeout"). So the servers get a command timeout and lease bounds this
 * oversubscribed machine can meet, and the test checks that no call timed out, so that it measures
 * stampede control, not timeouts.
 */
const STAMPEDE_ENV = (prefix: string) => ({
  CACHE_PREFIX: prefix,
  REDIS_COMMAND_TIMEOUT_MS: '5000',
  CACHE_LEASE_MS: '10000',
  CACHE_LEASE_WAIT_MS: '8000',
});

describe('stampede control across 3 server processes', () => {
  const prefix = uniquePrefix();
  let servers: ServerProcess[] = [];
  let database: Awaited<ReturnType<typeof openDatabase>>;
  beforeAll(async () => {
    database = await openDatabase(loadConfig({ DATABASE_URL: inject('databaseUrl') }));
    servers = await Promise.all([1, 2, 3].map(() => startServerProcess(STAMPEDE_ENV(prefix))));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await database?.close();
    await deletePrefix(prefix);
  });

  it('1,000 concurrent cold requests: every key is loaded from the database exactly once', async () => {
    const { products } = await createCatalogFixture(database.prisma, { products: 2, reviewsEach: 3 });
    const query = `query($a: ID!, $b: ID!) {
      a: product(id: $a) { id name reviews { id rating author { id name } } }
      b: product(id: $b) { id name category { id name } reviews { id } }
    }`;
    const variables = { a: String(products[0]!.id), b: String(products[1]!.id) };
    const responses = await Promise.all(Array.from({ length: 1000 }, (_, i) => servers[i % 3]!.query(query, variables)));
    for (const response of responses) expect(response.body.errors).toBeUndefined();
    const first = JSON.stringify(responses[0]!.body);
    expect(responses.every((r) => JSON.stringify(r.body) === first)).toBe(true);

    // Loads that requests waited for. XFetch may also refresh a hot key early, in the background
    // ("refresh"): that is not a stampede, and it is reported, not counted.
    const loadsPerKey = new Map<string, number>();
    let refreshes = 0;
    for (const server of servers) {
      for (const line of server.logs) {
        if (line.msg !== 'database load') continue;
        if (line.reason === 'refresh') refreshes += 1;
        else for (const key of line.keys as string[]) loadsPerKey.set(key, (loadsPerKey.get(key) ?? 0) + 1);
      }
    }
    // Not the startup check's: those are about the test Redis's settings (no maxmemory, nothing on disk).
    const warnings = servers.flatMap((server) => server.logs.filter((line) => line.level >= 40 && line.component !== 'redisRoles').map((line) => line.msg));
    expect(warnings).toEqual([]);
    const counts = [...loadsPerKey.values()];
    console.info(`stampede: ${loadsPerKey.size} keys, database loads per key: min ${Math.min(...counts)}, max ${Math.max(...counts)}; ${refreshes} background refreshes`);
    // The two products, their review lists, the category, the reviews of product b... at least these.
    expect(loadsPerKey.size).toBeGreaterThanOrEqual(5);
    expect(Object.fromEntries([...loadsPerKey].filter(([, n]) => n !== 1))).toEqual({});
  });
});
