import { ConfigError } from '../errors.ts';
import { decimal, headerName, integer, oneOf, origins, raw, secret, text, url, type Env } from './environment.ts';
import { readHttpLimits, type HttpLimits } from './httpLimits.ts';
import { readObservabilityOptions, type ObservabilityOptions } from './observabilityOptions.ts';
import { readRateLimitOptions, type RateLimitOptions } from './rateLimitOptions.ts';

/** A Redis Cluster node to start from; the client discovers the others. */
export interface ClusterNode {
  readonly host: string;
  readonly port: number;
}

/** Which cache tiers serve reads. L3 also needs {@link Config.redisUrl}. */
export type CacheTierName = 'l1' | 'l2' | 'l3';

/**
 * Defaults that components built outside the server (the standalone flusher, tests) fall back on
 * too: written once, here, and read by both {@link loadConfig} and the component.
 */
export const DEFAULTS = {
  viewFlushIntervalMs: 1000,
  viewFlushBatchSize: 500,
  viewFlushClaimIdleMs: 5000,
} as const;

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
  /** `DATABASE_CONNECT_TIMEOUT_MS`: a new PostgreSQL connection not made in this time fails (the request gets a 503). @default 5000 */
  databaseConnectTimeoutMs: number;
  /**
   * `DATABASE_QUERY_TIMEOUT_MS`: a statement with no answer in this time fails (a 503), so a
   * PostgreSQL that accepts connections but never answers cannot hold requests. @default 15000
   */
  databaseQueryTimeoutMs: number;
  /** `REDIS_URL`: the shared L3 tier, one Redis. Unset (and no cluster): no L3. */
  redisUrl: string | undefined;
  /** `REDIS_CLUSTER_NODES`: `host:port,host:port`, some nodes of a Redis Cluster to use instead of `REDIS_URL`. */
  redisClusterNodes: readonly ClusterNode[] | undefined;
  /**
   * `VIEWS_REDIS_URL`: the Redis that buffers product views until a flusher moves them into the
   * database. A store, not a cache: what it loses is lost, so run it with `appendonly yes` and
   * `maxmemory-policy noeviction` (process/redisRoles.ts warns at startup otherwise). Set, it is used
   * whatever {@link Config.cacheTiers} says.
   * @default the cache's Redis ({@link Config.redisUrl} or {@link Config.redisClusterNodes}) while `l3` is in {@link Config.cacheTiers}; without one, each view goes straight to the database
   */
  viewsRedisUrl: string | undefined;
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
  /**
   * `CORS_ORIGINS`: comma-separated origins (`scheme://host[:port]`, exactly as browsers send them)
   * whose pages may call /graphql cross-origin; `*` is refused. Credentials (cookies) are never
   * allowed: the Bearer token travels in `Authorization`, which the preflight allows. See
   * src/http/cors.ts. @default "" (same-origin only)
   */
  corsOrigins: ReadonlySet<string>;
  /**
   * `AUTH_TOKEN_SECRET`: the HMAC secret that signs Bearer tokens (32+ characters). Unset: a
   * development secret, with a warning, and only on loopback outside production: with
   * `NODE_ENV=production`, or a {@link Config.host} that is not loopback, startup stops instead.
   */
  authTokenSecret: string | undefined;
  /** `NODE_ENV`: `production` hides schema details (field suggestions) in errors and requires {@link Config.authTokenSecret}. */
  production: boolean;
  /** What one operation may ask for, checked before it executes (see {@link OperationLimits}). */
  limits: OperationLimits;
  /** Bounds on what one HTTP request may make the server hold (see {@link HttpLimits}). */
  http: HttpLimits;
  /** How many requests one viewer, or one anonymous client address, may send (see {@link RateLimitOptions}). */
  rateLimit: RateLimitOptions;
  /** Metrics and the per-response cache report (see {@link ObservabilityOptions}). */
  observability: ObservabilityOptions;
  /**
   * `RETRY_AFTER_SECONDS`: the `Retry-After` of a 503, sent when the database cannot be used and
   * the cache tiers cannot answer (a miss, a mutation). @default 5
   */
  retryAfterSeconds: number;
  /** `APQ_TTL_SECONDS`: how long a registered persisted query is kept. @default 3600 */
  apqTtlSeconds: number;
  /** `APQ_MAX_ENTRIES`: how many persisted queries are kept at most, the oldest dropped first. @default 1000 */
  apqMaxEntries: number;
  /** `SEED_PRODUCTS`: catalog size seeded into an empty embedded database on first start. @default 1000 */
  seedProducts: number;
  /** `LOG_LEVEL`: pino level. @default "info" */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

/**
 * Limits on one GraphQL operation, checked before it executes: a refused operation is a 400 that
 * names the limit, the value found and the maximum. The defaults are graphql-armor's, adapted to
 * this schema (its deepest legitimate query, product -> reviews -> author -> name, has depth 4).
 */
export interface OperationLimits {
  /** `GRAPHQL_LIMITS`: `off` turns every check below off (for the bench's contrast only). @default "on" */
  enabled: boolean;
  /** `GRAPHQL_MAX_DEPTH`: how deeply fields may nest. @default 6 */
  maxDepth: number;
  /** `GRAPHQL_MAX_ALIASES`: aliases per operation. @default 15 */
  maxAliases: number;
  /** `GRAPHQL_MAX_DIRECTIVES`: directives per operation. @default 50 */
  maxDirectives: number;
  /** `GRAPHQL_MAX_TOKENS`: lexical tokens per document; parsing stops at the first one over. @default 1000 */
  maxTokens: number;
  /** `GRAPHQL_MAX_COST`: the operation's cost, in which a list multiplies its selection by its `first` (see limits/operationCost.ts). @default 5000 */
  maxCost: number;
  /** `GRAPHQL_MAX_MUTATION_FIELDS`: mutation fields per operation, aliases and fragments included. @default 5 */
  maxMutationFields: number;
}

/** Reads and validates the configuration; the first bad value throws a {@link ConfigError} naming it. */
export function loadConfig(env: Env = process.env): Config {
  const config: Config = {
    port: integer(env, 'PORT', 4000, 0, 65535),
    host: text(env, 'HOST', '127.0.0.1'),
    databaseUrl: url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']),
    pgliteDataDir: text(env, 'PGLITE_DATA_DIR', '.data/pglite'),
    databaseConnectTimeoutMs: integer(env, 'DATABASE_CONNECT_TIMEOUT_MS', 5000, 100, 600_000),
    databaseQueryTimeoutMs: integer(env, 'DATABASE_QUERY_TIMEOUT_MS', 15_000, 100, 3_600_000),
    redisUrl: url(env, 'REDIS_URL', ['redis:', 'rediss:']),
    redisClusterNodes: clusterNodes(env),
    viewsRedisUrl: url(env, 'VIEWS_REDIS_URL', ['redis:', 'rediss:']),
    cacheTiers: tiers(env),
    cachePrefix: prefix(env),
    l2MaxBytes: integer(env, 'CACHE_L2_MAX_BYTES', 64 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
    absentTtlSeconds: integer(env, 'CACHE_ABSENT_TTL_SECONDS', 10, 1, 86_400),
    redisCommandTimeoutMs: integer(env, 'REDIS_COMMAND_TIMEOUT_MS', 250, 1, 60_000),
    graceEnabled: oneOf(env, 'CACHE_GRACE', ['on', 'off'], 'on') === 'on',
    xfetchBeta: decimal(env, 'CACHE_XFETCH_BETA', 1, 0, 100),
    leaseMs: integer(env, 'CACHE_LEASE_MS', 2000, 10, 60_000),
    leaseWaitMs: integer(env, 'CACHE_LEASE_WAIT_MS', 1000, 0, 60_000),
    viewFlushIntervalMs: integer(env, 'VIEW_FLUSH_INTERVAL_MS', DEFAULTS.viewFlushIntervalMs, 10, 3_600_000),
    viewFlushBatchSize: integer(env, 'VIEW_FLUSH_BATCH_SIZE', DEFAULTS.viewFlushBatchSize, 1, 100_000),
    viewFlushClaimIdleMs: integer(env, 'VIEW_FLUSH_CLAIM_IDLE_MS', DEFAULTS.viewFlushClaimIdleMs, 0, 3_600_000),
    responseCache: oneOf(env, 'RESPONSE_CACHE', ['on', 'off'], 'on') === 'on',
    cacheTagHeader: headerName(env, 'CACHE_TAG_HEADER', 'Cache-Tag'),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    authTokenSecret: secret(env, 'AUTH_TOKEN_SECRET', 32),
    production: env.NODE_ENV === 'production',
    limits: {
      enabled: oneOf(env, 'GRAPHQL_LIMITS', ['on', 'off'], 'on') === 'on',
      maxDepth: integer(env, 'GRAPHQL_MAX_DEPTH', 6, 1, 1000),
      maxAliases: integer(env, 'GRAPHQL_MAX_ALIASES', 15, 0, 10_000),
      maxDirectives: integer(env, 'GRAPHQL_MAX_DIRECTIVES', 50, 0, 10_000),
      maxTokens: integer(env, 'GRAPHQL_MAX_TOKENS', 1000, 10, 1_000_000),
      maxCost: integer(env, 'GRAPHQL_MAX_COST', 5000, 1, 100_000_000),
      maxMutationFields: integer(env, 'GRAPHQL_MAX_MUTATION_FIELDS', 5, 1, 1000),
    },
    http: readHttpLimits(env),
    rateLimit: readRateLimitOptions(env),
    observability: readObservabilityOptions(env),
    retryAfterSeconds: integer(env, 'RETRY_AFTER_SECONDS', 5, 1, 3600),
    apqTtlSeconds: integer(env, 'APQ_TTL_SECONDS', 3600, 1, 7 * 86_400),
    apqMaxEntries: integer(env, 'APQ_MAX_ENTRIES', 1000, 1, 10_000_000),
    seedProducts: integer(env, 'SEED_PRODUCTS', 1000, 1, 10_000_000),
    logLevel: oneOf(env, 'LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], 'info'),
  };
  // Node refuses a server whose headers may take longer than its whole request.
  if (config.http.headersTimeoutMs > config.http.requestTimeoutMs) {
    throw new ConfigError('HTTP_HEADERS_TIMEOUT_MS', env.HTTP_HEADERS_TIMEOUT_MS, `must not exceed HTTP_REQUEST_TIMEOUT_MS (${config.http.requestTimeoutMs})`);
  }
  return config;
}

// Private: the readers of variables that only this file knows.

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

function tiers(env: Env): ReadonlySet<CacheTierName> {
  const value = env.CACHE_TIERS;
  if (value === undefined) return new Set(['l1', 'l2', 'l3']);
  const names = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
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
