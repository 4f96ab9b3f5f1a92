import { ConfigError } from '../errors.ts';

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

/** Bounds on one HTTP request: what a client can make the server read, hold and wait for. */
export interface HttpLimits {
  /** `MAX_BODY_BYTES`: a POST body over this is refused with 413, from its Content-Length when it declares one. @default 1048576 (1 MiB) */
  maxBodyBytes: number;
  /** `MAX_QUERY_BYTES`: a query text over this is refused with 413 before it is parsed. @default 65536 (64 KiB) */
  maxQueryBytes: number;
  /** `MAX_RESPONSE_BYTES`: a response over this is replaced by a RESPONSE_TOO_LARGE error, and never stored. @default 1048576 (1 MiB) */
  maxResponseBytes: number;
  /** `RESPONSE_CACHE_MAX_BYTES`: the response tier stores no response over this. @default 262144 (256 KiB) */
  maxStoredResponseBytes: number;
  /**
   * `MAX_URL_BYTES`: a request whose URL (path and query string) is longer is refused with 414,
   * saying to send the query by POST; set it to what the proxies in front pass (often 8192), so a
   * GET they would refuse is refused here first, with that advice. At most 16384: Node's limit on
   * the request line and headers together, past which the socket gets a 431 with the same advice
   * before any request exists (http/clientErrorAnswer.ts). At the default, that 431 is the only
   * limit. @default 16384
   */
  maxUrlBytes: number;
  /** `HTTP_HEADERS_TIMEOUT_MS`: a client must send its request headers within this. @default 10000 */
  headersTimeoutMs: number;
  /** `HTTP_REQUEST_TIMEOUT_MS`: a client must send its whole request, body included, within this (a slow body is cut off with 408). @default 30000 */
  requestTimeoutMs: number;
}

/**
 * The request rate limit: an exact sliding window (limits/rateLimit/), counted in the Redis of
 * {@link Config.redisUrl} or {@link Config.redisClusterNodes} and so shared by every instance;
 * without one, in this process only (each instance then lets its own `limit` through).
 */
export interface RateLimitOptions {
  /** `RATE_LIMIT`: `on` counts every GraphQL request, response-tier hits included; `off` counts none. @default "off" */
  enabled: boolean;
  /** `RATE_LIMIT_REQUESTS`: requests a signed-in viewer (by user id) may send per window. @default 600 */
  userRequests: number;
  /** `RATE_LIMIT_ANONYMOUS_REQUESTS`: requests an anonymous client (by address) may send per window. @default {@link RateLimitOptions.userRequests} */
  anonymousRequests: number;
  /** `RATE_LIMIT_WINDOW_SECONDS`: the sliding window's length. @default 60 */
  windowSeconds: number;
  /**
   * `RATE_LIMIT_WHEN_REDIS_DOWN`: while the limiter's Redis fails or does not answer within
   * {@link Config.redisCommandTimeoutMs}, `open` lets requests through uncounted, `closed` refuses
   * them with 503 and Retry-After. @default "open"
   */
  whenRedisDown: 'open' | 'closed';
  /**
   * `RATE_LIMIT_TRUSTED_PROXY_HOPS`: how many proxies in front of the server append to
   * `X-Forwarded-For`; an anonymous client's address is the entry that many hops back from the
   * connection's. 0: the connection's own address, and the header is ignored (anyone can write it).
   * @default 0
   */
  trustedProxyHops: number;
}

type Env = Record<string, string | undefined>;

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
    http: {
      maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
      maxQueryBytes: integer(env, 'MAX_QUERY_BYTES', 64 * 1024, 256, 1024 * 1024 * 1024),
      maxResponseBytes: integer(env, 'MAX_RESPONSE_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
      maxStoredResponseBytes: integer(env, 'RESPONSE_CACHE_MAX_BYTES', 256 * 1024, 0, 1024 * 1024 * 1024),
      maxUrlBytes: integer(env, 'MAX_URL_BYTES', 16 * 1024, 256, 16 * 1024),
      headersTimeoutMs: integer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
      requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
    },
    rateLimit: rateLimitOptions(env),
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

function origins(env: Env, name: string): ReadonlySet<string> {
  const value = raw(env, name);
  if (value === undefined) return new Set();
  const list = value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of list) {
    if (origin === '*') throw new ConfigError(name, env[name], 'must list exact origins; "*" is refused');
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    // What a browser sends in Origin, to the byte: a path, a trailing slash or capitals would never match it.
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) {
      const hint = parsed && parsed.origin !== 'null' ? ` (did you mean ${parsed.origin}?)` : '';
      throw new ConfigError(name, env[name], `"${origin}" is not an origin: http(s)://host[:port], no path${hint}`);
    }
  }
  return new Set(list);
}

function secret(env: Env, name: string, minLength: number): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && value.length < minLength) throw new ConfigError(name, '(hidden)', `must be at least ${minLength} characters`);
  return value;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
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

/**
 * Refuses, with a {@link ConfigError}, to serve with the development token secret where anyone else
 * could reach the server: it is public (it is in the source), so it is only ever used outside
 * production, on a loopback interface. Checked by the server alone: the migrator, the seed and the
 * token script run in the same containers (HOST=0.0.0.0) and sign or serve nothing.
 */
export function assertSafeToServe(config: Pick<Config, 'authTokenSecret' | 'production' | 'host'>): void {
  if (config.authTokenSecret !== undefined) return;
  if (config.production) throw new ConfigError('AUTH_TOKEN_SECRET', undefined, 'must be set (32+ characters) when NODE_ENV=production');
  if (!isLoopback(config.host)) throw new ConfigError('AUTH_TOKEN_SECRET', undefined, `must be set (32+ characters) when HOST=${config.host} is not a loopback address`);
}

/** Where L3 is: one Redis, a Redis Cluster, or nowhere. */
export function redisTarget(config: Pick<Config, 'redisUrl' | 'redisClusterNodes'>): { url: string } | { clusterNodes: readonly ClusterNode[] } | undefined {
  if (config.redisClusterNodes) return { clusterNodes: config.redisClusterNodes };
  return config.redisUrl === undefined ? undefined : { url: config.redisUrl };
}

/** Where product views are buffered: see {@link Config.viewsRedisUrl}; undefined, nowhere (each view goes straight to the database). */
export function viewsRedisTarget(config: Config): ReturnType<typeof redisTarget> {
  if (config.viewsRedisUrl !== undefined) return { url: config.viewsRedisUrl };
  return config.cacheTiers.has('l3') ? redisTarget(config) : undefined;
}

function rateLimitOptions(env: Env): RateLimitOptions {
  const userRequests = integer(env, 'RATE_LIMIT_REQUESTS', 600, 1, 1_000_000);
  return {
    enabled: oneOf(env, 'RATE_LIMIT', ['on', 'off'], 'off') === 'on',
    userRequests,
    anonymousRequests: integer(env, 'RATE_LIMIT_ANONYMOUS_REQUESTS', userRequests, 1, 1_000_000),
    windowSeconds: integer(env, 'RATE_LIMIT_WINDOW_SECONDS', 60, 1, 86_400),
    whenRedisDown: oneOf(env, 'RATE_LIMIT_WHEN_REDIS_DOWN', ['open', 'closed'], 'open'),
    trustedProxyHops: integer(env, 'RATE_LIMIT_TRUSTED_PROXY_HOPS', 0, 0, 16),
  };
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

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, env[name], `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}
