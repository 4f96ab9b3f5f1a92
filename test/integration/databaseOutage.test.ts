import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { FaultProxy } from '../support/faultProxy.ts';
import { deletePrefix, startTestApp, type GraphQLResult, type TestApp } from '../support/testApp.ts';

/** Words that would tell a client about the server's insides. */
const INTERNALS = /prisma|invocation|ECONNREFUSED|ECONNRESET|Can't reach|127\.0\.0\.1|postgres|DatabaseNotReachable|ConnectionClosed|\bat \S+ \(|node_modules/i;

describe('PostgreSQL down (production mode)', () => {
  const behind = useAppBehindDatabaseProxy({ NODE_ENV: 'production', RESPONSE_CACHE: 'on', RETRY_AFTER_SECONDS: '7' });

  it('answers from the cache tiers what they hold, a miss with 503, and a mutation with 503 that wrote nothing', async () => {
    const { proxy, t } = behind;
    // Cached while the database is up: a whole response, and the product by id.
    const cachedQuery = '{ product(id: "1") { id name } }';
    expect((await t.query(cachedQuery)).status).toBe(200);
    expect((await t.query('{ product(id: "3") { id name } }')).body.data).toEqual({ product: { id: '3', name: expect.any(String) } });
    const before = await t.app.database.prisma.product.findUniqueOrThrow({ where: { id: 2 } });

    proxy.set({ kind: 'reset' });

    // c. the response tier answers, and so do the data tiers for another shape of a cached product.
    const hit = await t.query(cachedQuery);
    expect(hit.status).toBe(200);
    expect(hit.headers.get('x-response-cache')).toBe('HIT');
    const dataHit = await t.query('{ product(id: "3") { name id } }');
    expect(dataHit.status).toBe(200);
    expect(dataHit.body.data).toEqual({ product: { id: '3', name: expect.any(String) } });
    expect(hit.headers.get('x-request-id')).not.toBe(dataHit.headers.get('x-request-id'));

    // a. a miss: 503, Retry-After, a stable code, no detail, and the id that finds the detail in the log.
    const missQuery = '{ product(id: "999") { id name } }';
    const miss = await t.query(missQuery);
    expectUnavailable(miss);
    expect(miss.body.errors?.[0]?.message).toMatch(/cannot reach its database/);
    const requestId = miss.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(miss.body.errors?.[0]?.extensions?.requestId).toBe(requestId);
    const detail = t.logs.filter((line) => line.requestId === requestId && line.msg === 'database unavailable');
    expect(detail).toHaveLength(1);
    expect(JSON.stringify(detail[0])).toMatch(/ConnectionClosed|ECONNRESET|Connection terminated|DatabaseNotReachable/);

    // b. a mutation: 503, and it says nothing was written.
    const write = await t.mutate('mutation { updateProduct(id: "2", input: { name: "written during the outage" }) { id name } }');
    expectUnavailable(write);
    expect(write.body.errors?.[0]?.message).toMatch(/nothing was written/);
    expect(write.body.errors?.[0]?.extensions?.wrote).toBe('nothing');

    // Never stored: the same miss, once the database is back, is answered from it.
    proxy.set({ kind: 'pass' });
    await eventually(async () => expect((await t.query(missQuery)).status).toBe(200));
    // And the mutation, true to its word, wrote nothing.
    const after = await t.app.database.prisma.product.findUniqueOrThrow({ where: { id: 2 } });
    expect(after).toEqual(before);
  });

  function expectUnavailable(response: GraphQLResult): void {
    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-response-cache')).toBeNull();
    expect(response.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    expect(JSON.stringify(response.body)).not.toMatch(INTERNALS);
  }
});

describe('PostgreSQL hanging (accepts, never answers)', () => {
  const behind = useAppBehindDatabaseProxy({ NODE_ENV: 'production', DATABASE_CONNECT_TIMEOUT_MS: '1000', DATABASE_QUERY_TIMEOUT_MS: '1000' });

  it('answers a miss and a mutation with 503 once the database has not answered within its bound', async () => {
    const { proxy, t } = behind;
    // A connection in the pool already, and one fresh one needed: both kinds must be bounded.
    expect((await t.query('{ product(id: "4") { id } }')).status).toBe(200);
    proxy.set({ kind: 'hang' });

    const miss = await t.query('{ product(id: "998") { id name } }');
    expect(miss.status).toBe(503);
    expect(miss.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');
    const write = await t.mutate('mutation { updateProduct(id: "5", input: { name: "written while hanging" }) { id } }');
    expect(write.status).toBe(503);
    expect(write.body.errors?.[0]?.extensions?.code).toBe('SERVICE_UNAVAILABLE');

    proxy.set({ kind: 'pass' });
  });
});

async function eventually(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * For the enclosing describe: a FaultProxy in front of the run's PostgreSQL, and an app whose
 * DATABASE_URL is the proxy, with `env` besides. Stopped, and the app's keys deleted, after.
 */
function useAppBehindDatabaseProxy(env: Record<string, string>): { proxy: FaultProxy; t: TestApp } {
  const started = {} as { proxy: FaultProxy; t: TestApp };
  beforeAll(async () => {
    const databaseUrl = new URL(inject('databaseUrl'));
    started.proxy = await FaultProxy.start({ targetPort: Number(databaseUrl.port || 5432), host: databaseUrl.hostname });
    databaseUrl.port = String(started.proxy.port);
    started.t = await startTestApp({ ...env, DATABASE_URL: databaseUrl.toString() });
  });
  afterAll(async () => {
    await started.t?.stop();
    await started.proxy?.close();
    if (started.t) await deletePrefix(started.t.prefix);
  });
  return started;
}
