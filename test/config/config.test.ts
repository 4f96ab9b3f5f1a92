import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { ConfigError } from '../../src/errors.ts';

describe('configuration', () => {
  it('has working defaults with nothing set: embedded database, no Redis, every tier', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 4000,
      databaseUrl: undefined,
      redisUrl: undefined,
      cachePrefix: 'gqlcache:',
      l2MaxBytes: 64 * 1024 * 1024,
      absentTtlSeconds: 10,
      redisCommandTimeoutMs: 250,
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
  });

  it.each([
    ['PORT', 'abc', /PORT="abc": must be a whole number/],
    ['PORT', '70000', /PORT="70000": must be from 0 to 65535/],
    ['DATABASE_URL', 'mysql://x', /DATABASE_URL="mysql:\/\/x": must start with postgres:\/\/ or postgresql:\/\//],
    ['DATABASE_URL', 'not a url', /DATABASE_URL="not a url": is not a URL/],
    ['REDIS_URL', 'http://x', /REDIS_URL="http:\/\/x": must start with redis:\/\/ or rediss:\/\//],
    ['CACHE_TIERS', 'l1,l4', /CACHE_TIERS="l1,l4": unknown tier "l4"/],
    ['CACHE_PREFIX', 'a{b}', /CACHE_PREFIX="a\{b\}": must not contain braces/],
    ['CACHE_L2_MAX_BYTES', '-5', /CACHE_L2_MAX_BYTES="-5": must be a whole number/],
    ['CACHE_L2_MAX_BYTES', '10', /CACHE_L2_MAX_BYTES="10": must be from 1024/],
    ['REDIS_COMMAND_TIMEOUT_MS', '0', /REDIS_COMMAND_TIMEOUT_MS="0"/],
    ['LOG_LEVEL', 'loud', /LOG_LEVEL="loud": must be one of/],
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
});
