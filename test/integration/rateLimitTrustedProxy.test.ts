import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permitsKey } from '../../src/limits/rateLimit/permitLease.ts';
import { redisUrl } from '../support/services.ts';
import { startTestApp, uniquePrefix, type TestApp } from '../support/testApp.ts';

const QUERY = JSON.stringify({ query: '{ product(id: 1) { id } }' });

/** Behind one trusted proxy, an anonymous client is counted by the address the proxy appended. */
describe('RATE_LIMIT_TRUSTED_PROXY_HOPS', () => {
  const prefix = uniquePrefix();
  let behindProxy: TestApp;
  let direct: TestApp;
  beforeAll(async () => {
    const env = { CACHE_TIERS: 'l1,l2', RATE_LIMIT: 'on', RATE_LIMIT_ANONYMOUS_REQUESTS: '1', RATE_LIMIT_WINDOW_SECONDS: '300' };
    [behindProxy, direct] = await Promise.all([startTestApp({ ...env, CACHE_PREFIX: prefix, RATE_LIMIT_TRUSTED_PROXY_HOPS: '1' }), startTestApp({ ...env, CACHE_PREFIX: `${prefix}direct:` })]);
  });
  afterAll(async () => {
    await Promise.all([behindProxy?.stop(), direct?.stop()]);
    const redis = new Redis(redisUrl);
    const logs = [...['203.0.113.1', '203.0.113.2'].map((ip) => `${prefix}{rl:ip:${ip}}`), `${prefix}direct:{rl:ip:127.0.0.1}`];
    await redis.del(...logs, ...logs.map(permitsKey));
    redis.disconnect();
  });

  const post = (app: TestApp, forwardedFor: string) => fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor }, body: QUERY }).then((r) => r.status);

  it('counts each forwarded client apart, ignoring what the client itself wrote further left', async () => {
    expect(await post(behindProxy, '6.6.6.6, 203.0.113.1')).toBe(200);
    expect(await post(behindProxy, '7.7.7.7, 203.0.113.1')).toBe(429);
    expect(await post(behindProxy, '203.0.113.2')).toBe(200);
  });

  it('without a trusted proxy, ignores the header: a client cannot pick a fresh address per request', async () => {
    expect(await post(direct, '203.0.113.1')).toBe(200);
    expect(await post(direct, '203.0.113.2')).toBe(429);
  });
});
