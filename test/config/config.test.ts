import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { redisTarget, viewsRedisTarget } from '../../src/config/redisTargets.ts';
import { assertSafeToServe } from '../../src/config/safeToServe.ts';
import { ConfigError } from '../../src/errors.ts';

describe('configuration', () => {
  it('has working defaults with nothing set: embedded database, no Redis, every tier', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      databaseUrl: undefined,
      redisUrl: undefined,
      viewsRedisUrl: undefined,
      cachePrefix: 'gqlcache:',
      l2MaxBytes: 64 * 1024 * 1024,
      absentTtlSeconds: 10,
      redisCommandTimeoutMs: 250,
      redisClusterNodes: undefined,
      graceEnabled: true,
      xfetchBeta: 1,
      leaseMs: 2000,
      leaseWaitMs: 1000,
      viewFlushIntervalMs: 1000,
      viewFlushBatchSize: 500,
      viewFlushClaimIdleMs: 5000,
    });
    expect([...config.cacheTiers]).toEqual(['l1', 'l2', 'l3']);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgresql://u@db:5432/shop',
      REDIS_URL: 'redis://cache:6379',
      CACHE_TIERS: 'l1, L3',
      CACHE_PREFIX: 'shop:',
      CACHE_L2_MAX_BYTES: '1048576',
      REDIS_COMMAND_TIMEOUT_MS: '100',
    });
    expect(config).toMatchObject({ port: 8080, cachePrefix: 'shop:', l2MaxBytes: 1048576, redisCommandTimeoutMs: 100 });
    expect([...config.cacheTiers]).toEqual(['l1', 'l3']);
    expect(loadConfig({ CACHE_TIERS: '' }).cacheTiers.size).toBe(0);
    expect(loadConfig({ CACHE_GRACE: 'off', CACHE_XFETCH_BETA: '0.5', CACHE_LEASE_MS: '500', CACHE_LEASE_WAIT_MS: '0' })).toMatchObject({
      graceEnabled: false,
      xfetchBeta: 0.5,
      leaseMs: 500,
      leaseWaitMs: 0,
    });
  });

  it('reads a Redis Cluster as a list of nodes, instead of REDIS_URL', () => {
    const config = loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, redis-b:7001' });
    expect(config.redisClusterNodes).toEqual([
      { host: '10.0.0.1', port: 7000 },
      { host: 'redis-b', port: 7001 },
    ]);
    expect(redisTarget(config)).toEqual({ clusterNodes: config.redisClusterNodes });
    expect(redisTarget(loadConfig({ REDIS_URL: 'redis://cache:6379' }))).toEqual({ url: 'redis://cache:6379' });
    expect(redisTarget(loadConfig({}))).toBeUndefined();
  });

  it("buffers views in VIEWS_REDIS_URL, else in the cache's Redis (one or a Cluster) while L3 is in use, else nowhere", () => {
    const separate = loadConfig({ REDIS_URL: 'redis://cache:6379', VIEWS_REDIS_URL: 'redis://views:6379' });
    expect(separate.viewsRedisUrl).toBe('redis://views:6379');
    expect(viewsRedisTarget(separate)).toEqual({ url: 'redis://views:6379' });
    expect(redisTarget(separate)).toEqual({ url: 'redis://cache:6379' });
    // A store of its own is used whatever caching does.
    expect(viewsRedisTarget(loadConfig({ VIEWS_REDIS_URL: 'rediss://views:6380', CACHE_TIERS: 'l1' }))).toEqual({ url: 'rediss://views:6380' });
    expect(viewsRedisTarget(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000', VIEWS_REDIS_URL: 'redis://views:6379' }))).toEqual({ url: 'redis://views:6379' });

    expect(viewsRedisTarget(loadConfig({ REDIS_URL: 'redis://cache:6379' }))).toEqual({ url: 'redis://cache:6379' });
    expect(viewsRedisTarget(loadConfig({ REDIS_CLUSTER_NODES: 'a:7000,b:7001' }))).toEqual({
      clusterNodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
    expect(viewsRedisTarget(loadConfig({ REDIS_URL: 'redis://cache:6379', CACHE_TIERS: 'l1,l2' }))).toBeUndefined();
    expect(viewsRedisTarget(loadConfig({}))).toBeUndefined();
  });

  it('refuses REDIS_URL and REDIS_CLUSTER_NODES together', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://a:1', REDIS_CLUSTER_NODES: 'a:1' })).toThrow(/either REDIS_URL or REDIS_CLUSTER_NODES/);
  });

  it.each([
    ['PORT', 'abc', /PORT="abc": must be a whole number/],
    ['PORT', '70000', /PORT="70000": must be from 0 to 65535/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL="mysql:\/\/x": must start with postgres:\/\/ or postgresql:\/\//],
    ['DATABASE_URL', 'not a url', /DATABASE_URL="not a url": is not a URL/],
    ['REDIS_URL', 'http://x', /REDIS_URL="http:\/\/x": must start with redis:\/\/ or rediss:\/\//],
    ['VIEWS_REDIS_URL', 'http://x', /VIEWS_REDIS_URL="http:\/\/x": must start with redis:\/\/ or rediss:\/\//],
    ['VIEWS_REDIS_URL', 'views:6379', /VIEWS_REDIS_URL="views:6379": must start with redis:\/\//],
    ['CACHE_TIERS', 'l1,l4', /CACHE_TIERS="l1,l4": unknown tier "l4"/],
    ['CACHE_PREFIX', 'a{b}', /CACHE_PREFIX="a\{b\}": must not contain braces/],
    ['CACHE_L2_MAX_BYTES', '-5', /CACHE_L2_MAX_BYTES="-5": must be a whole number/],
    ['CACHE_L2_MAX_BYTES', '10', /CACHE_L2_MAX_BYTES="10": must be from 1024/],
    ['REDIS_COMMAND_TIMEOUT_MS', '0', /REDIS_COMMAND_TIMEOUT_MS="0"/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud": must be one of/],
    ['REDIS_CLUSTER_NODES', 'a:1,b', /REDIS_CLUSTER_NODES="a:1,b": "b" is not host:port/],
    ['REDIS_CLUSTER_NODES', 'a:99999', /is not host:port/],
    ['CACHE_GRACE', 'maybe', /CACHE_GRACE="maybe": must be one of on, off/],
    ['CACHE_XFETCH_BETA', '-1', /CACHE_XFETCH_BETA="-1": must be a non-negative number/],
    ['CACHE_XFETCH_BETA', '1000', /must be from 0 to 100/],
  ])('refuses %s=%s with a message naming it', (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as ConfigError).message).toMatch(message);
  });

  it('refuses to start on the public development secret in production or off loopback, naming the variable', () => {
    for (const env of [{ NODE_ENV: 'production' }, { HOST: '0.0.0.0' }, { HOST: '10.0.0.5' }, { HOST: '::' }, { NODE_ENV: 'production', HOST: '127.0.0.1' }]) {
      // The migrator and the token script load the same configuration in the same container: only serving is refused.
      const config = loadConfig(env);
      expect(() => assertSafeToServe(config)).toThrow(ConfigError);
      expect(() => assertSafeToServe(config)).toThrow(/AUTH_TOKEN_SECRET.*must be set/);
    }
    expect(() => loadConfig({ NODE_ENV: 'production', AUTH_TOKEN_SECRET: 'too-short' })).toThrow(/AUTH_TOKEN_SECRET.*at least 32 characters/);
    const secret = 'x'.repeat(32);
    const production = loadConfig({ NODE_ENV: 'production', HOST: '0.0.0.0', AUTH_TOKEN_SECRET: secret });
    expect(production).toMatchObject({ production: true, authTokenSecret: secret });
    expect(() => assertSafeToServe(production)).not.toThrow();
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1']) expect(() => assertSafeToServe(loadConfig({ HOST: host }))).not.toThrow();
  });

  it('has the operation and HTTP limits, each from its variable', () => {
    expect(loadConfig({})).toMatchObject({
      limits: { enabled: true, maxDepth: 6, maxAliases: 15, maxDirectives: 50, maxTokens: 1000, maxCost: 5000, maxMutationFields: 5 },
      http: { maxBodyBytes: 1048576, maxQueryBytes: 65536, maxResponseBytes: 1048576, maxStoredResponseBytes: 262144, headersTimeoutMs: 10000, requestTimeoutMs: 30000 },
      apqTtlSeconds: 3600,
      apqMaxEntries: 1000,
    });
    expect(loadConfig({ GRAPHQL_MAX_DEPTH: '9', GRAPHQL_LIMITS: 'off', MAX_QUERY_BYTES: '4096' })).toMatchObject({ limits: { maxDepth: 9, enabled: false }, http: { maxQueryBytes: 4096 } });
    expect(() => loadConfig({ GRAPHQL_MAX_COST: '0' })).toThrow(/GRAPHQL_MAX_COST.*must be from 1/);
    expect(() => loadConfig({ HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '1000' })).toThrow(/HTTP_HEADERS_TIMEOUT_MS.*must not exceed HTTP_REQUEST_TIMEOUT_MS/);
  });

  it('reads CORS_ORIGINS as exact origins; none by default (same-origin only)', () => {
    expect([...loadConfig({}).corsOrigins]).toEqual([]);
    expect([...loadConfig({ CORS_ORIGINS: ' https://shop.example.com, http://127.0.0.1:5173 ,' }).corsOrigins]).toEqual(['https://shop.example.com', 'http://127.0.0.1:5173']);
    for (const [value, message] of [
      ['*', /CORS_ORIGINS="\*": must list exact origins/],
      ['https://shop.example.com/', /"https:\/\/shop.example.com\/" is not an origin.*did you mean https:\/\/shop.example.com\?/],
      ['https://shop.example.com/app', /is not an origin: http\(s\):\/\/host\[:port\], no path/],
      ['https://Shop.example.com', /did you mean https:\/\/shop.example.com\?/],
      ['shop.example.com', /"shop.example.com" is not an origin/],
      ['ftp://files.example.com', /"ftp:\/\/files.example.com" is not an origin/],
      ['https://a.example.com,null', /"null" is not an origin/],
    ] as const) {
      expect(() => loadConfig({ CORS_ORIGINS: value }), value).toThrow(ConfigError);
      expect(() => loadConfig({ CORS_ORIGINS: value }), value).toThrow(message);
    }
  });
});

describe('rate limit configuration', () => {
  it('is off by default, with one limit for viewers and addresses', () => {
    expect(loadConfig({}).rateLimit).toEqual({ enabled: false, userRequests: 600, anonymousRequests: 600, windowSeconds: 60, whenRedisDown: 'open', trustedProxyHops: 0 });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      RATE_LIMIT: 'on',
      RATE_LIMIT_REQUESTS: '100',
      RATE_LIMIT_ANONYMOUS_REQUESTS: '20',
      RATE_LIMIT_WINDOW_SECONDS: '10',
      RATE_LIMIT_WHEN_REDIS_DOWN: 'closed',
      RATE_LIMIT_TRUSTED_PROXY_HOPS: '2',
    });
    expect(config.rateLimit).toEqual({ enabled: true, userRequests: 100, anonymousRequests: 20, windowSeconds: 10, whenRedisDown: 'closed', trustedProxyHops: 2 });
  });

  it('names the variable of a bad value', () => {
    expect(() => loadConfig({ RATE_LIMIT: 'yes' })).toThrow(/RATE_LIMIT="yes": must be one of on, off/);
    expect(() => loadConfig({ RATE_LIMIT_REQUESTS: '0' })).toThrow(/RATE_LIMIT_REQUESTS="0": must be from 1/);
    expect(() => loadConfig({ RATE_LIMIT_WINDOW_SECONDS: '1.5' })).toThrow(/RATE_LIMIT_WINDOW_SECONDS="1.5": must be a whole number/);
    expect(() => loadConfig({ RATE_LIMIT_WHEN_REDIS_DOWN: 'ajar' })).toThrow(/RATE_LIMIT_WHEN_REDIS_DOWN/);
    expect(() => loadConfig({ RATE_LIMIT_TRUSTED_PROXY_HOPS: '17' })).toThrow(/RATE_LIMIT_TRUSTED_PROXY_HOPS="17": must be from 0 to 16/);
  });
});
