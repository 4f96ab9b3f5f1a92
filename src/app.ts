import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { ApolloServer, ApolloServerPlugin } from '@apollo/server';
import type { GraphQLSchema } from 'graphql';
import { BearerTokens, tokenSecret } from './auth/bearerTokens.ts';
import { CacheKeys } from './cache/keys.ts';
import type { LoadEvent } from './cache/readThrough/readThrough.ts';
import { createCacheStack, type CacheStack } from './cache/stack.ts';
import { CacheAddresses } from './catalog/cacheAddresses.ts';
import { cachedKindsFromSchema, type CachedKinds } from './catalog/cachedKinds.ts';
import { CatalogQueries } from './catalog/queries.ts';
import { CatalogWrites } from './catalog/writes.ts';
import type { Config } from './config/config.ts';
import { assertSafeToServe } from './config/safeToServe.ts';
import { openDatabase, type Database } from './database/database.ts';
import { prepareEmbedded } from './database/embeddedSetup.ts';
import { serveCors } from './http/cors.ts';
import { handleGraphQL, type GraphQLEndpoint } from './http/graphqlHandler.ts';
import { startGraphQLServer } from './http/graphqlServer.ts';
import { sendLive, sendReady, type HealthChecks } from './http/health.ts';
import { createHttpServer } from './http/httpServer.ts';
import { PersistedQueryCache } from './http/persistedQueryCache.ts';
import { createRateLimiter } from './limits/rateLimit/createRateLimiter.ts';
import type { RateLimiter } from './limits/rateLimit/rateLimiter.ts';
import type { Logger } from './logging/logger.ts';
import { createMutations } from './mutations/catalogMutations.ts';
import { cacheStackHooks, scrapeSources } from './observability/appMetrics.ts';
import { cacheReportPlugin } from './observability/cacheReportPlugin.ts';
import { CacheMetrics, NO_METRICS, type MetricsSink } from './observability/metrics.ts';
import { Lifecycle } from './process/lifecycle.ts';
import { checkRedisRoles } from './process/redisRoles.ts';
import { typeHttpPolicies } from './responses/httpPolicy.ts';
import { loggingPurgeHook, type PurgeHook } from './responses/purgeHook.ts';
import { responseKind } from './responses/storedResponse.ts';
import { ResponseTier } from './responses/responseTier.ts';
import { createContext, type RequestContext } from './schema/context.ts';
import { buildSchema } from './schema/schema.ts';
import { openViewCounting, type ViewCounting } from './views/viewCounting.ts';

export interface AppEvents {
  load: [LoadEvent];
  miss: [{ readonly kind: string; readonly keys: readonly string[] }];
  /** A request went to Apollo: the response tier did not answer it. */
  execution: [];
}

/** A wired server: what main.ts starts and what the integration tests drive and inspect. */
export interface App {
  readonly http: Server;
  readonly database: Database;
  /** Every cache tier below L1, by role, with the read path and the invalidator (see CacheStack). */
  readonly cache: CacheStack;
  readonly keys: CacheKeys;
  readonly addresses: CacheAddresses;
  /** Emits 'load' for every database load of the read path, 'miss' for every read that waited on one, 'execution' for every request Apollo ran. */
  readonly events: EventEmitter<AppEvents>;
  /** Every cached kind, with its TTLs and shape version. */
  readonly kinds: CachedKinds;
  /** The Prometheus metrics (METRICS), or a sink that counts nothing. */
  readonly metrics: MetricsSink;
  /** The tiers in use, for logs: "L1", "L2", "L3". */
  readonly tierNames: readonly string[];
  /** Listens on `port` (0: any free port) and resolves to the base URL. */
  listen(port: number, host: string): Promise<string>;
  /** Graceful stop: refuse new work, finish requests in flight, close every connection. */
  stop(): Promise<void>;
}

export interface AppOptions {
  /** Told the tags each mutation on this instance invalidated, to purge a CDN. @default logs them */
  purge?: PurgeHook;
  /** Apollo plugins to run beside the server's own (tracing, tests). @default none */
  plugins?: readonly ApolloServerPlugin<RequestContext>[];
}

/**
 * Composes the server from its parts, each opened by its own builder and registered with its
 * close(): stop() closes them in reverse, and a start that fails closes what it had opened.
 */
export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  // Before anything is opened: a server that must not start has nothing to close.
  assertSafeToServe(config);
  const lifecycle = new Lifecycle(logger);
  return lifecycle.openOrClose(async () => {
    const schema = buildSchema();
    const database = lifecycle.own('database', await openDatabase(config));
    if (database.kind === 'embedded') await prepareEmbedded(database, config, logger);
    // Down at startup is logged, never fatal: the caches answer what they hold, the rest gets a 503.
    else await database.ping().catch((error: unknown) => logger.warn({ err: error }, 'database not reachable at startup; requests that need it get 503 until it is'));

    const keys = new CacheKeys(config.cachePrefix);
    const kinds = cachedKindsFromSchema(schema, { absentTtlSeconds: config.absentTtlSeconds, graceEnabled: config.graceEnabled });
    const addresses = new CacheAddresses(keys, kinds);
    const instanceId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    const events = new EventEmitter<AppEvents>();
    const purge = options.purge ?? loggingPurgeHook(logger);
    const metrics = config.observability.metrics ? new CacheMetrics() : NO_METRICS;
    const cache = lifecycle.own(
      'cache',
      await createCacheStack({
        config,
        keys,
        tagLifetimeMs: (tag) => addresses.tagLifetimeMs(tag),
        instanceId,
        logger,
        onLoad: (load) => {
          logger.debug({ kind: load.kind, keys: load.keys, reason: load.reason }, 'database load');
          events.emit('load', load);
        },
        onMiss: (miss) => events.emit('miss', miss),
        ...cacheStackHooks(metrics),
        onInvalidated: (tags) => {
          metrics.invalidated(tags);
          Promise.resolve()
            .then(() => purge(tags))
            .catch((error: unknown) => logger.warn({ err: error, tags }, 'purge hook failed'));
        },
      }),
    );
    const views = lifecycle.own('views', await openViewCounting({ config, database, cache, instanceId, logger, onFlushedViews: (n) => metrics.viewsFlushed(n) }));
    // Each role's Redis must be able to keep its promise: a setting that breaks one is a warning, never a failed start.
    await checkRedisRoles({ cache: cache.redis, views: views.redis }, { logger, timeoutMs: config.redisCommandTimeoutMs });

    const rateLimiting = lifecycle.own('rateLimit', await createRateLimiter(config, logger));
    const http = lifecycle.own('http', createHttpServer(config.http, logger));
    metrics.watch(scrapeSources(cache, views));
    const plugins = [...(options.plugins ?? []), ...(config.observability.cacheDebug ? [cacheReportPlugin()] : [])];
    const apollo = await startGraphQLServer({ config, schema, http: http.server, persistedQueries: persistedQueryCache(config, cache, keys), plugins, logger });
    // Stops the HTTP server and waits for requests in flight (the drain plugin).
    lifecycle.onClose('graphql', () => apollo.stop());
    const graphql = graphqlEndpoint({ config, schema, apollo, cache, keys, addresses, kinds, views, database, events, logger, metrics, rateLimiter: rateLimiting.limiter });
    let draining = false;
    const health = healthChecks({ database, cache, draining: () => draining });
    http.route({
      // CORS before the CSRF check and the response tier: a preflight carries no operation.
      '/graphql': (req, res) => (serveCors(req, res, config.corsOrigins) === 'answered' ? undefined : handleGraphQL(req, res, graphql)),
      '/health/live': (_req, res) => sendLive(res),
      '/health/ready': (_req, res) => sendReady(res, health),
      // Never through the response tier; no-store (CacheMetrics.serve).
      ...(metrics.enabled ? { [config.observability.metricsPath]: (_req, res) => metrics.serve(res) } : {}),
    });
    views.start();
    // Registered last so it runs first: the load balancer hears "not ready" before anything closes.
    lifecycle.onClose('draining', () => void (draining = true));

    return {
      http: http.server,
      database,
      cache,
      keys,
      addresses,
      events,
      kinds,
      metrics,
      tierNames: [...(config.cacheTiers.has('l1') ? ['L1'] : []), ...(cache.local ? ['L2'] : []), ...(cache.shared ? ['L3'] : [])],
      listen: (port, host) => http.listen(port, host),
      stop: () => lifecycle.close(),
    };
  });
}

// Private:

/** Shared by every instance when there is an L3: a CDN's hash-only GET may reach any of them. */
function persistedQueryCache(config: Config, cache: CacheStack, keys: CacheKeys): PersistedQueryCache | undefined {
  if (!cache.redis || !cache.guard) return undefined;
  return new PersistedQueryCache({ redis: cache.redis, guard: cache.guard, prefix: keys.keyspace, ttlSeconds: config.apqTtlSeconds, maxEntries: config.apqMaxEntries });
}

interface EndpointParts {
  readonly config: Config;
  readonly schema: GraphQLSchema;
  readonly apollo: ApolloServer<RequestContext>;
  readonly cache: CacheStack;
  readonly keys: CacheKeys;
  readonly addresses: CacheAddresses;
  readonly kinds: CachedKinds;
  readonly views: ViewCounting;
  readonly database: Database;
  readonly events: EventEmitter<AppEvents>;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  readonly rateLimiter: RateLimiter | undefined;
}

/** What /graphql needs per request: the context (loaders and mutations over the cache), tokens, and the response tier. */
function graphqlEndpoint(parts: EndpointParts): GraphQLEndpoint {
  const { config, schema, cache, addresses, kinds, views, database, logger } = parts;
  const loaderDeps = {
    readThrough: cache.readThrough,
    addresses,
    kinds,
    queries: new CatalogQueries(database.prisma),
    requestCache: config.cacheTiers.has('l1'),
    ...(parts.metrics.reads ? { observer: parts.metrics.reads } : {}),
    ...(views.pendingViews ? { pendingViews: views.pendingViews } : {}),
  };
  const mutationDeps = { writes: new CatalogWrites(database.prisma), readThrough: cache.readThrough, invalidator: cache.invalidator, addresses, kinds, views: views.recorder };
  const secret = tokenSecret(config);
  if (secret.development) logger.warn('AUTH_TOKEN_SECRET is not set: Bearer tokens are signed with the development secret, which anyone can read');
  return {
    apollo: parts.apollo,
    context: (request) => createContext(loaderDeps, (loaders, viewer) => createMutations(mutationDeps, loaders, viewer), request),
    tokens: new BearerTokens({ secret: secret.secret }),
    responses: new ResponseTier({
      stack: config.responseCache && (cache.local || cache.shared) ? cache : undefined,
      keys: parts.keys,
      kind: responseKind(schema),
      tagLifetimeMs: (tag) => addresses.tagLifetimeMs(tag),
      headers: { policies: typeHttpPolicies(schema), tagHeader: config.cacheTagHeader },
      maxStoredBytes: config.http.maxStoredResponseBytes,
      logger,
      metrics: parts.metrics,
    }),
    logger,
    limits: config.http,
    ...(parts.rateLimiter ? { rateLimiter: parts.rateLimiter } : {}),
    onExecute: () => parts.events.emit('execution'),
    cacheDebug: config.observability.cacheDebug,
  };
}

function healthChecks(parts: { database: Database; cache: CacheStack; draining: () => boolean }): HealthChecks {
  const { database, cache } = parts;
  return {
    database: () => database.ping(),
    cacheTiers: () => ({
      L2: cache.local ? (cache.trusted() ? 'up' : 'paused') : 'off',
      L3: cache.guard ? cache.guard.state : 'off',
    }),
    draining: parts.draining,
  };
}
