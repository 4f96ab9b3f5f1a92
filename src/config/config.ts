import type { ClusterNode } from '../cache/tiers/redisClient.ts';
import { ConfigError } from '../errors.ts';

/** Which cache tiers serve reads. L3 also needs {@link Config.redisUrl}. */
export type CacheTierName = 'l1' | 'l2' | 'l3';

/** Everything the server reads from its environment, validated once at startup. */
export interface Config {
  /** `PORT`: the HTTP port. @default 4000 */
  port: number;
  /** `HOST`: the interface to listen on. @default "127.0.0.1" */
  host: string;
  /** `DATABASE_URL`: a PostgreSQL URL. Unset: an embedded PostgreSQL (PGlite) in {@link Config.pgliteDataDir}. */
  databaseUrl: string | undefined;
  /** `PGLITE_DATA_DIR`: where the embedded database keeps its files. @default ".data/pglite" */
  pgliteDataDir: string;
  /** `REDIS_URL`: the shared L3 tier, one Redis. Unset (and no cluster): no L3. */
  redisUrl: string | undefined;
  /** `REDIS_CLUSTER_NODES`: `host:port,host:port`, some nodes of a Redis Cluster to use instead of `REDIS_URL`. */
  redisClusterNodes: readonly ClusterNode[] | undefined;
  /** `CACHE_TIERS`: comma-separated subset of l1,l2,l3; empty turns caching off. @default "l1,l2,l3" */
  cacheTiers: ReadonlySet<CacheTierName>;
  /** `CACHE_PREFIX`: prefix of every Redis key. Braces are refused: they would form a Redis Cluster hash tag. @default "gqlcache:" */
  cachePrefix: string;
  /** `CACHE_L2_MAX_BYTES`: the process-wide L2 bound, in bytes of encoded entries. @default 67108864 (64 MiB) */
  l2MaxBytes: number;
  /** `CACHE_ABSENT_TTL_SECONDS`: how long an id that matched no row is remembered as absent. @default 10 */
  absentTtlSeconds: number;
  /** `REDIS_COMMAND_TIMEOUT_MS`: after this, an L3 call is given up and the read falls through (event-loop lag does not count, see TierGuard). @default 250 */
  redisCommandTimeoutMs: number;
  /** `CACHE_GRACE`: `on` serves entries past their TTL within their type's `@cacheGrace` while one refresh runs; `off` never serves past the TTL. @default "on" */
  graceEnabled: boolean;
  /** `CACHE_XFETCH_BETA`: XFetch early refresh; higher refreshes earlier, 0 turns it off. @default 1 */
  xfetchBeta: number;
  /** `CACHE_LEASE_MS`: how long one instance's lease on a missing key lasts if never released. @default 2000 */
  leaseMs: number;
  /** `CACHE_LEASE_WAIT_MS`: how long other instances wait for the lease holder's fill before loading themselves. @default 1000 */
  leaseWaitMs: number;
  /** `VIEW_FLUSH_INTERVAL_MS`: how often buffered product views are moved into the database. @default 1000 */
  viewFlushIntervalMs: number;
  /** `VIEW_FLUSH_BATCH_SIZE`: views moved per database transaction. @default 500 */
  viewFlushBatchSize: number;
  /** `VIEW_FLUSH_CLAIM_IDLE_MS`: a batch taken by a flusher that has been silent this long (it died) is taken over. @default 5000 */
  viewFlushClaimIdleMs: number;
  /** `RESPONSE_CACHE`: `on` serves whole responses from L2/L3 before parsing (needs `l2` or `l3` in CACHE_TIERS); `off` always executes. @default "on" */
  responseCache: boolean;
  /** `CACHE_TAG_HEADER`: the response header that lists a response's tags comma-separated, besides `Surrogate-Key` (space-separated). @default "Cache-Tag" */
  cacheTagHeader: string;
  /** `AUTH_TOKEN_SECRET`: the HMAC secret that signs Bearer tokens (32+ characters). Unset: a development secret, with a warning. */
  authTokenSecret: string | undefined;
  /** `SEED_PRODUCTS`: catalog size seeded into an empty embedded database on first start. @default 1000 */
  seedProducts: number;
  /** `LOG_LEVEL`: pino level. @default "info" */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

type Env = Record<string, string | undefined>;

/** Reads and validates the configuration; the first bad value throws a {@link ConfigError} naming it. */
export function loadConfig(env: Env = process.env): Config {
  return {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: text(env, 'HOST', '127.0.0.1'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    pgliteDataDir: text(env, 'PGLITE_DATA_DIR', '.data/pglite'),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisClusterNodes: clusterNodes(env),
    cacheTiers: tiers(env),
    cachePrefix: prefix(env),
    l2MaxBytes: integer(env, 'CACHE_L2_MAX_BYTES', 64 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
    absentTtlSeconds: integer(env, 'CACHE_ABSENT_TTL_SECONDS', 10, 1, 86_400),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 250, 1, 60_000),
    graceEnabled: oneOf(env, 'CACHE_GRACE', ['on', 'off'], 'on') === 'on',
    xfetchBeta: decimal(env, 'CACHE_XFETCH_BETA', 1, 0, 100),
    leaseMs: integer(env, 'CACHE_LEASE_MS', 2000, 10, 60_000),
    leaseWaitMs: integer(env, 'CACHE_LEASE_WAIT_MS', 1000, 0, 60_000),
    viewFlushIntervalMs: integer(env, 'VIEW_FLUSH_INTERVAL_MS', 1000, 10, 3_600_000),
    viewFlushBatchSize: integer(env, 'VIEW_FLUSH_BATCH_SIZE', 500, 1, 100_000),
    viewFlushClaimIdleMs: integer(env, 'VIEW_FLUSH_CLAIM_IDLE_MS', 5000, 0, 3_600_000),
    responseCache: oneOf(env, 'RESPONSE_CACHE', ['on', 'off'], 'on') === 'on',
    cacheTagHeader: headerName(env, 'CACHE_TAG_HEADER', 'Cache-Tag'),
    authTokenSecret: secret(env, 'AUTH_TOKEN_SECRET', 32),
    seedProducts: integer(env, 'SEED_PRODUCTS', 1000, 1, 10_000_000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  };
}

// Private: one reader per kind of value, each naming the variable in its error.

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, env[name], 'must be a whole number');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, env[name], `must be from ${min} to ${max}`);
  return n;
}

function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(name, env[name], 'must be a non-negative number');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, env[name], `must be from ${min} to ${max}`);
  return n;
}

function text(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

function headerName(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  // RFC 9110 token characters: anything else is not a header name.
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) throw new ConfigError(name, env[name], 'is not an HTTP header name');
  return value;
}

function secret(env: Env, name: string, minLength: number): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && value.length < minLength) throw new ConfigError(name, '(hidden)', `must be at least ${minLength} characters`);
  return value;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, env[name], 'is not a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, env[name], `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return value;
}

function clusterNodes(env: Env): ClusterNode[] | undefined {
  const value = raw(env, 'REDIS_CLUSTER_NODES');
  if (value === undefined) return undefined;
  if (raw(env, 'REDIS_URL') !== undefined) throw new ConfigError('REDIS_CLUSTER_NODES', value, 'set either REDIS_URL or REDIS_CLUSTER_NODES, not both');
  return value.split(',').map((node) => {
    const match = /^([^:\s]+):(\d{1,5})$/.exec(node.trim());
    if (!match || Number(match[2]) > 65535) throw new ConfigError('REDIS_CLUSTER_NODES', value, `"${node.trim()}" is not host:port`);
    return { host: match[1] as string, port: Number(match[2]) };
  });
}

/** Where L3 is: one Redis, a Redis Cluster, or nowhere. */
export function redisTarget(config: Config): { url: string } | { clusterNodes: readonly ClusterNode[] } | undefined {
  if (config.redisClusterNodes) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl === undefined ? undefined : { url: config.redisUrl };
}

function tiers(env: Env): ReadonlySet<CacheTierName> {
  const value = env.CACHE_TIERS;
  if (value === undefined) return new Set(['l1', 'l2', 'l3']);
  const names = value.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const n of names) {
    if (n !== 'l1' && n !== 'l2' && n !== 'l3') {
      throw new ConfigError('CACHE_TIERS', value, `unknown tier "${n}"; use a subset of l1,l2,l3`);
    }
  }
  return new Set(names as CacheTierName[]);
}

function prefix(env: Env): string {
  const value = env.CACHE_PREFIX ?? 'gqlcache:';
  if (value.length === 0 || value.length > 64) {
    throw new ConfigError('CACHE_PREFIX', value, 'must be 1 to 64 characters');
  }
  if (/[{}\s]/.test(value)) {
    throw new ConfigError('CACHE_PREFIX', value, 'must not contain braces or white space');
  }
  return value;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, env[name], `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
