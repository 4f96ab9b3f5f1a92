import { request } from 'node:http';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { permitsKey } from '../../src/limits/rateLimit/permitLease.ts';
import { startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { redisUrl } from '../support/services.ts';
import { uniquePrefix } from '../support/testApp.ts';
import { adminToken, tokensFor } from '../support/tokens.ts';

const USER_LIMIT = 30;
const ANONYMOUS_LIMIT = 20;
/** Long enough that no admitted request leaves the window during a test, however slow the machine. */
const WINDOW_SECONDS = 300;
/** `t` of a fresh key: its lease is counted a window after its last possible use, up to 250 ms after the grant. */
const FRESH_T = new RegExp(`;t=(${WINDOW_SECONDS}|${WINDOW_SECONDS + 1})$`);
/** A cacheable query: after the first, the response tier answers, and each hit must count too. */
const QUERY = '{ product(id: 1) { id name } }';

interface Answer {
  status: number;
  headers: Record<string, string | undefined>;
  body: { data?: unknown; errors?: Array<{ message: string; extensions?: { code?: string } }> };
}

/** POSTs the query to one server, from `localAddress` (any 127.x address reaches a loopback server). */
function post(server: ServerProcess, options: { token?: string; localAddress?: string } = {}): Promise<Answer> {
  const body = JSON.stringify({ query: QUERY });
  return new Promise((resolve, reject) => {
    const req = request(
      `${server.url}/graphql`,
      {
        method: 'POST',
        agent: false,
        ...(options.localAddress ? { localAddress: options.localAddress } : {}),
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers as Answer['headers'], body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `count` requests at once, spread over the servers in turn. */
function burst(servers: ServerProcess[], count: number, options: Parameters<typeof post>[1] = {}): Promise<Answer[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => post(servers[i % servers.length]!, options)));
}

/**
 * Three real server processes share one Redis and count into one sliding window per viewer and per
 * anonymous address: however the requests spread over them, exactly the limit gets through.
 */
describe('rate limit across three server processes', () => {
  const prefix = uniquePrefix();
  let servers: ServerProcess[];
  let redis: Redis;
  beforeAll(async () => {
    const env = {
      CACHE_PREFIX: prefix,
      RESPONSE_CACHE: 'on',
      LOG_LEVEL: 'info',
      // Exactness is the point: a busy machine's slow answer must not open the limiter (see rateLimitRedisDown).
      REDIS_COMMAND_TIMEOUT_MS: '5000',
      RATE_LIMIT: 'on',
      RATE_LIMIT_REQUESTS: String(USER_LIMIT),
      RATE_LIMIT_ANONYMOUS_REQUESTS: String(ANONYMOUS_LIMIT),
      RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_SECONDS),
    };
    servers = await Promise.all([0, 1, 2].map(() => startServerProcess(env)));
    redis = new Redis(redisUrl);
  }, 90_000);
  afterAll(async () => {
    await Promise.all((servers ?? []).map((s) => s.stop()));
    const keys = ['ip:127.0.0.1', 'ip:127.0.0.2', 'ip:127.0.0.3', 'ip:127.0.0.4', 'user:1', 'user:2', 'user:3'].flatMap((subject) => [`${prefix}{rl:${subject}}`, permitsKey(`${prefix}{rl:${subject}}`)]);
    await redis?.del(...keys);
    redis?.disconnect();
  });

  it('lets exactly the anonymous limit through out of three times as many concurrent requests, hits included, and refuses the rest with 429', async () => {
    // Another viewer's requests fill the response tier on every server, so the burst is all hits.
    const [user3] = await tokensFor(3);
    for (const server of servers) expect((await post(server, { token: user3! })).status).toBe(200);
    const answers = await burst(servers, 3 * ANONYMOUS_LIMIT);
    const admitted = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 429);
    expect(admitted).toHaveLength(ANONYMOUS_LIMIT);
    expect(refused).toHaveLength(2 * ANONYMOUS_LIMIT);
    // Response-tier hits, counted like the rest.
    expect(admitted.every((a) => a.headers['x-response-cache'] === 'HIT')).toBe(true);

    // Every answer says the policy and what is left; the admitted ones count down to 0 once each.
    for (const a of answers) expect(a.headers['ratelimit-policy']).toBe(`"ip";q=${ANONYMOUS_LIMIT};w=${WINDOW_SECONDS}`);
    const remaining = admitted.map((a) => Number(/;r=(\d+);/.exec(a.headers.ratelimit ?? '')?.[1])).sort((x, y) => x - y);
    expect(remaining).toEqual(Array.from({ length: ANONYMOUS_LIMIT }, (_, i) => i));
    for (const a of refused) {
      const retryAfter = Number(a.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      // A lease is counted a window after its last possible use (FRESH_T).
      expect(retryAfter).toBeLessThanOrEqual(WINDOW_SECONDS + 1);
      expect(a.headers.ratelimit).toBe(`"ip";r=0;t=${retryAfter}`);
      expect(a.headers['cache-control']).toBe('no-store');
      expect(a.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    }
  });

  it('counts a signed-in viewer by user id, apart from its address and from other viewers', async () => {
    // The address is spent (the test above); user 2 has a quota of its own, exact across the servers.
    const [user2] = await tokensFor(2);
    const answers = await burst(servers, 3 * USER_LIMIT, { token: user2! });
    expect(answers.filter((a) => a.status === 200)).toHaveLength(USER_LIMIT);
    expect(answers.filter((a) => a.status === 429)).toHaveLength(2 * USER_LIMIT);
    expect(answers[0]!.headers['ratelimit-policy']).toBe(`"user";q=${USER_LIMIT};w=${WINDOW_SECONDS}`);
    // User 1 is untouched by user 2's spending.
    const admin = await post(servers[0]!, { token: await adminToken() });
    expect(admin.status).toBe(200);
    expect(admin.headers.ratelimit).toMatch(`"user";r=${USER_LIMIT - 1};`);
    expect(admin.headers.ratelimit).toMatch(FRESH_T);
  });

  it('counts another anonymous address apart', async () => {
    expect((await post(servers[1]!)).status).toBe(429);
    const other = await post(servers[1]!, { localAddress: '127.0.0.2' });
    expect(other.status).toBe(200);
    expect(other.headers.ratelimit).toMatch(`"ip";r=${ANONYMOUS_LIMIT - 1};`);
    expect(other.headers.ratelimit).toMatch(FRESH_T);
  });

  it('counts forged tokens against their address: guessing tokens is limited like anonymous requests', async () => {
    const forged = `${(await adminToken()).slice(0, -4)}AAAA`;
    const guesses = await burst(servers, ANONYMOUS_LIMIT, { token: forged, localAddress: '127.0.0.3' });
    expect(guesses.map((a) => a.status)).toEqual(Array.from({ length: ANONYMOUS_LIMIT }, () => 401));
    const next = await post(servers[2]!, { token: forged, localAddress: '127.0.0.3' });
    expect(next.status).toBe(429);
    expect(next.body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
    // The same bucket as the address's anonymous requests.
    expect((await post(servers[0]!, { localAddress: '127.0.0.3' })).status).toBe(429);
  });

  it("gives a quiet server's unused permits back when its lease ends: another server still reaches the limit", async () => {
    const from = { localAddress: '127.0.0.4' };
    const key = `${prefix}{rl:ip:127.0.0.4}`;
    // Server 0 leases an eighth of the quota (2 of 20), uses one, and sees no more of this address.
    expect((await post(servers[0]!, from)).status).toBe(200);
    const first = await burst([servers[1]!], 2 * ANONYMOUS_LIMIT, from);
    expect(first.filter((a) => a.status === 200)).toHaveLength(ANONYMOUS_LIMIT - 2);
    // When server 0's lease ends (250 ms), its unused permit goes back unasked.
    const deadline = performance.now() + 10_000;
    while (Number(await redis.hget(permitsKey(key), 'total')) !== ANONYMOUS_LIMIT - 1) {
      expect(performance.now()).toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const second = await burst([servers[1]!], ANONYMOUS_LIMIT, from);
    expect(second.filter((a) => a.status === 200)).toHaveLength(1);
  });
});
