import type { Cluster, Redis } from 'ioredis';

/** A Redis client that can run the lock's scripts (see Locks for how they work together). */
export type WithLockScripts = (Redis | Cluster) & {
  acquireLock(lock: string, fence: string, token: string, ttlMs: number): Promise<string | null>;
  renewLock(lock: string, token: string, ttlMs: number): Promise<number>;
  releaseLock(lock: string, token: string): Promise<number>;
};

/** `redis`, with the lock's scripts defined on it once (each Locks on the same client shares them). */
export function withLockScripts(redis: Redis | Cluster): WithLockScripts {
  if (!('acquireLock' in redis)) {
    redis.defineCommand('acquireLock', { numberOfKeys: 2, lua: ACQUIRE });
    redis.defineCommand('renewLock', { numberOfKeys: 1, lua: RENEW });
    redis.defineCommand('releaseLock', { numberOfKeys: 1, lua: RELEASE });
  }
  return redis as WithLockScripts;
}

// Private:

/**
 * KEYS: lock, fencing counter. ARGV: token, ttl ms. Takes the lock if free and returns the next
 * fencing token as a string; nil if held. The counter never expires, but a Redis that keeps nothing
 * on disk loses it on restart: so a token is at least the server's clock in microseconds, which
 * (clock moving forward, under a million tokens a second) is past every token issued before the restart.
 */
const ACQUIRE = `
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return nil end
local token = redis.call('INCR', KEYS[2])
local now = redis.call('TIME')
local floor = tonumber(now[1]) * 1000000 + tonumber(now[2])
if token < floor then
  token = floor
  redis.call('SET', KEYS[2], string.format('%.0f', token))
end
return string.format('%.0f', token)
`;

/** KEYS: lock. ARGV: token, ttl ms. 1 if the lock is still this token's and was renewed, 0 if lost. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS: lock. ARGV: token. 1 if the lock was this token's and is deleted, 0 if it was not (left alone). */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;
