import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { leaseDurationMs } from '../../src/limits/rateLimit/permitLease.ts';
import { startTestApp, useAppBehindRedisProxy, type TestApp } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';

const QUERY = '{ product(id: 1) { id name } }';
const COMMAND_TIMEOUT_MS = 200;
const DOWN = /^rate limiter's Redis unavailable/;
const RECOVERED = /^rate limiter's Redis recovered/;

/** The limiter is the only Redis client (no L3), so the log lines counted are its own. */
function env(redisUrl: string, whenDown: 'open' | 'closed'): Record<string, string> {
  return {
    REDIS_URL: redisUrl,
    CACHE_TIERS: 'l1,l2',
    REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    RATE_LIMIT: 'on',
    RATE_LIMIT_REQUESTS: '1000',
    RATE_LIMIT_WINDOW_SECONDS: '60',
    RATE_LIMIT_WHEN_REDIS_DOWN: whenDown,
  };
}

/** The permits leased before an outage are still used until their lease ends; after it, each request needs Redis. */
function leaseEnds() {
  return new Promise((resolve) => setTimeout(resolve, leaseDurationMs({ limit: 1000, windowMs: 60_000 })));
}

function linesMatching(app: TestApp, pattern: RegExp) {
  return app.logs.filter((line) => pattern.test(line.msg));
}

/** Sends the query until `done` says so (each answer is the event waited for), within a bound. */
async function untilAnswer(app: TestApp, done: (answer: Awaited<ReturnType<TestApp['query']>>) => boolean, ms = 15_000) {
  const deadline = performance.now() + ms;
  for (;;) {
    const answer = await app.query(QUERY);
    if (done(answer)) return answer;
    if (performance.now() > deadline) throw new Error(`no such answer within ${ms} ms; last: ${answer.status} ${JSON.stringify(answer.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('RATE_LIMIT_WHEN_REDIS_DOWN=open, Redis killed', () => {
  let redis: ThrowawayRedis;
  let app: TestApp;
  beforeAll(async () => {
    redis = await ThrowawayRedis.start();
    app = await startTestApp(env(redis.url, 'open'));
  });
  afterAll(async () => {
    await app?.stop();
    await redis?.stop();
  });

  it('lets requests through uncounted (no RateLimit header), logs the outage once, and counts again once Redis is back', async () => {
    const before = await app.query(QUERY);
    expect(before.status).toBe(200);
    // t: the lease is counted a window after its last possible use, up to 250 ms after the grant.
    expect(before.headers.get('ratelimit')).toMatch(/^"ip";r=999;t=6[01]$/);

    await redis.kill();
    await leaseEnds();
    const during = await Promise.all(Array.from({ length: 30 }, () => app.query(QUERY)));
    for (const answer of during) {
      expect(answer.status).toBe(200);
      expect(answer.headers.get('ratelimit')).toBeNull();
    }
    expect(linesMatching(app, DOWN)).toHaveLength(1);
    expect(linesMatching(app, DOWN)[0]).toMatchObject({ level: 40, err: { code: 'RATE_LIMIT_UNAVAILABLE' } });

    await redis.restart();
    // A fresh Redis: the count starts over.
    await untilAnswer(app, (answer) => answer.headers.get('ratelimit') !== null);
    expect(linesMatching(app, DOWN)).toHaveLength(1);
    expect(linesMatching(app, RECOVERED)).toHaveLength(1);
  });
});

describe('RATE_LIMIT_WHEN_REDIS_DOWN=closed, Redis hanging', () => {
  const behind = useAppBehindRedisProxy((proxyUrl) => env(proxyUrl, 'closed'));

  it('refuses with 503 and Retry-After within the command timeout, logs once, and serves again when Redis answers', async () => {
    const { app, proxy } = behind;
    expect((await app.query(QUERY)).status).toBe(200);

    proxy.set({ kind: 'hang' });
    await leaseEnds();
    const started = performance.now();
    const first = await app.query(QUERY);
    const elapsed = performance.now() - started;
    expect(first.status).toBe(503);
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.headers.get('ratelimit')).toBeNull();
    expect(first.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMIT_UNAVAILABLE');
    // Bounded by the command timeout, plus what a busy machine adds to a request.
    expect(elapsed).toBeLessThan(COMMAND_TIMEOUT_MS + 5000);
    // While the guard skips Redis, refusals cost no wait at all; still one log line.
    const more = await Promise.all(Array.from({ length: 20 }, () => app.query(QUERY)));
    expect(more.every((answer) => answer.status === 503)).toBe(true);
    expect(linesMatching(app, DOWN)).toHaveLength(1);

    proxy.set({ kind: 'pass' });
    await untilAnswer(app, (answer) => answer.status === 200);
    expect(linesMatching(app, DOWN)).toHaveLength(1);
    expect(linesMatching(app, RECOVERED)).toHaveLength(1);
  });
});
