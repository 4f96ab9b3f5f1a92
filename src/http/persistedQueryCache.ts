import type { KeyValueCache, KeyValueCacheSetOptions } from '@apollo/utils.keyvaluecache';
import type { Cluster, Redis } from 'ioredis';
import type { TierGuard } from '../cache/tiers/tierGuard.ts';

export interface PersistedQueryCacheOptions {
  redis: Redis | Cluster;
  /**
   * Every Redis call goes through it, so a failure or a timeout reads as "not registered" and a
   * registration is dropped: Apollo never sees an error. Only run() is needed.
   */
  guard: Pick<TierGuard, 'run'>;
  /**
   * The keyspace this store writes under (the app's `CacheKeys.keyspace`); it must not contain braces.
   * Keys: `<prefix>{apq}:index` and `<prefix>{apq}:q:<Apollo's key>`.
   */
  prefix: string;
  /**
   * The longest a registered query is kept, in whole seconds: a registration lives min(Apollo's
   * `ttl`, this), and one that Apollo gives no TTL gets this. No default here: the app's
   * configuration (APQ_TTL_SECONDS) holds it, so it is written in one place.
   */
  ttlSeconds: number;
  /**
   * The most query texts kept at once, over every instance: registering one more drops those that
   * expire soonest (with one TTL, the oldest). With the HTTP layer's 64 KB cap on a query text, the
   * store holds at most maxEntries × 64 KB of text. No default here: see APQ_MAX_ENTRIES.
   */
  maxEntries: number;
}

/**
 * Apollo's Automatic Persisted Query store in Redis, shared by every instance: a query registered
 * through one instance is known to all, so a CDN's hash-only GET may reach any of them. A Redis
 * failure reads as "not registered" (the client sends the query again), never as an error.
 *
 * Any client may register any text, so the store is bounded twice: by TTL and by count. Every text
 * is listed in an index (a sorted set, scored by its expiry time); one script stores the text, lists
 * it, forgets the expired and evicts the excess, so no concurrent registration, from any instance,
 * sees a half-done step or pushes the count over `maxEntries`.
 */
export class PersistedQueryCache implements KeyValueCache<string> {
  private readonly redis: WithScripts;
  private readonly guard: Pick<TierGuard, 'run'>;
  private readonly index: string;
  private readonly textPrefix: string;
  private readonly ttlSeconds: number;
  private readonly maxEntries: number;

  constructor(options: PersistedQueryCacheOptions) {
    // One hash tag for every key of this store: on a Cluster a script may only touch keys of one
    // slot, and the APQ store is small and bounded, so one slot (one node) holds it without strain.
    // The prefix has no braces (checked here; config.ts refuses them in CACHE_PREFIX, and keys.ts
    // escapes them), so `{apq}` is the first brace pair of every key, the part Redis hashes, whatever
    // Apollo's key contains; and no other key of the app carries this tag.
    const base = `${getValidPrefix(options)}{apq}:`;
    this.index = `${base}index`;
    this.textPrefix = `${base}q:`;
    this.ttlSeconds = getValidTtlSeconds(options);
    this.maxEntries = getValidMaxEntries(options);
    this.guard = options.guard;
    this.redis = options.redis as WithScripts;
    if (!('registerPersistedQuery' in options.redis)) options.redis.defineCommand('registerPersistedQuery', { numberOfKeys: 2, lua: REGISTER });
    if (!('forgetPersistedQuery' in options.redis)) options.redis.defineCommand('forgetPersistedQuery', { numberOfKeys: 2, lua: FORGET });
  }

  async get(key: string): Promise<string | undefined> {
    // A read refreshes nothing: a text lives from its registration, however often it is used.
    return (await this.guard.run(null, () => this.redis.get(this.textPrefix + key))) ?? undefined;
  }

  async set(key: string, value: string, options?: KeyValueCacheSetOptions): Promise<void> {
    const ttl = cappedTtl(options?.ttl, this.ttlSeconds);
    await this.guard.run(undefined, async () => {
      await this.redis.registerPersistedQuery(this.index, this.textPrefix + key, value, ttl, this.maxEntries, this.textPrefix, key);
    });
  }

  async delete(key: string): Promise<boolean> {
    const deleted = await this.guard.run(0, () => this.redis.forgetPersistedQuery(this.index, this.textPrefix + key, key));
    return deleted > 0;
  }
}

// Private:

type WithScripts = (Redis | Cluster) & {
  registerPersistedQuery(index: string, textKey: string, text: string, ttlSeconds: number, maxEntries: number, textPrefix: string, member: string): Promise<number>;
  forgetPersistedQuery(index: string, textKey: string, member: string): Promise<number>;
};

/** Apollo's TTL (seconds; unset, null or 0 for none) under the cap, as whole seconds for SET EX. */
function cappedTtl(requested: number | null | undefined, cap: number): number {
  if (typeof requested !== 'number' || !(requested > 0)) return cap;
  return Math.min(Math.ceil(requested), cap);
}

/**
 * KEYS: index, text key. ARGV: text, TTL (s), max entries, text key prefix, index member.
 *
 * Scores are expiry times in ms, from Redis's own clock: every instance shares it (no clock skew
 * between instances), and SET EX expires the text on it at exactly its score. The score is written
 * as a string with microseconds, so registrations in the same millisecond keep their order (Lua
 * would print a number with 14 digits only). The evicted texts' keys are built from the members;
 * they carry the same hash tag, so they are in the slot the script runs on.
 * Returns how many texts were evicted.
 */
const REGISTER = `
local time = redis.call('TIME')
local seconds, micros = tonumber(time[1]), tonumber(time[2])
local ttl = tonumber(ARGV[2])
local now = seconds * 1000 + micros / 1000
local expiry = string.format('%d.%03d', (seconds + ttl) * 1000 + math.floor(micros / 1000), micros % 1000)
redis.call('SET', KEYS[2], ARGV[1], 'EX', ttl)
redis.call('ZADD', KEYS[1], expiry, ARGV[5])
-- Their texts have expired already: only the index still lists them.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local excess = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[3])
if excess > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], excess)
  for i = 1, #popped, 2 do redis.call('DEL', ARGV[4] .. popped[i]) end
else
  excess = 0
end
-- The index lives as long as its longest-lived text, never less (an orphan text would go uncounted).
if redis.call('PTTL', KEYS[1]) < ttl * 1000 then redis.call('PEXPIRE', KEYS[1], ttl * 1000) end
return excess
`;

/** KEYS: index, text key. ARGV: index member. The text and its listing go together. */
const FORGET = `
redis.call('ZREM', KEYS[1], ARGV[1])
return redis.call('DEL', KEYS[2])
`;

function getValidPrefix(options: PersistedQueryCacheOptions): string {
  const { prefix } = options;
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new TypeError(`prefix must be a string without braces, got ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

function getValidTtlSeconds(options: PersistedQueryCacheOptions): number {
  const { ttlSeconds } = options;
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new TypeError(`ttlSeconds must be a positive whole number, got ${String(ttlSeconds)}`);
  }
  return ttlSeconds;
}

function getValidMaxEntries(options: PersistedQueryCacheOptions): number {
  const { maxEntries } = options;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) {
    throw new TypeError(`maxEntries must be a positive whole number, got ${String(maxEntries)}`);
  }
  return maxEntries;
}
