import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { authorizationPlugin } from './auth/authorization.ts';
import { BearerTokens, tokenSecret } from './auth/bearerTokens.ts';
import { CacheKeys } from './cache/keys.ts';
import type { LoadEvent } from './cache/readThrough/readThrough.ts';
import { createCacheStack, type CacheStack } from './cache/stack.ts';
import { tags } from './cache/tags/tags.ts';
import { closeRedisClient, createRedisClient, waitUntilReady } from './cache/tiers/redisClient.ts';
import { TierGuard } from './cache/tiers/tierGuard.ts';
import { CacheAddresses } from './catalog/cacheAddresses.ts';
import { cachedKindsFromSchema, type CachedKinds } from './catalog/cachedKinds.ts';
import { CatalogQueries } from './catalog/queries.ts';
import { CatalogWrites } from './catalog/writes.ts';
import { assertSafeToServe, redisTarget, viewsRedisTarget, type Config } from './config/config.ts';
import { openDatabase, type Database } from './database/database.ts';
import { applyMigrations } from './database/migrator.ts';
import { seedCatalog, signSeededUser } from './database/seedCatalog.ts';
import { ClientGoneError } from './errors.ts';
import { clientErrorFormatter } from './http/clientErrors.ts';
import { handleGraphQL, sendJsonError, type GraphQLEndpoint } from './http/graphqlHandler.ts';
import { sendLive, sendReady } from './http/health.ts';
import { PersistedQueryCache } from './http/persistedQueryCache.ts';
import { declaresTooLargeBody } from './http/requestBody.ts';
import { boundedDocumentStore, DOCUMENT_STORE_BYTES } from './limits/documentStore.ts';
import { operationLimits } from './limits/operationLimits.ts';
import type { Logger } from './logging/logger.ts';
import { createMutations } from './mutations/catalogMutations.ts';
import { checkRedisRoles } from './process/redisRoles.ts';
import { typeHttpPolicies } from './responses/httpPolicy.ts';
import { loggingPurgeHook, type PurgeHook } from './responses/purgeHook.ts';
import { responsePolicyPlugin } from './responses/responsePolicyPlugin.ts';
import { responseKind } from './responses/storedResponse.ts';
import { ResponseTier } from './responses/responseTier.ts';
import { createContext, type RequestContext } from './schema/context.ts';
import { buildSchema } from './schema/schema.ts';
import { DirectViewRecorder } from './views/directViewRecorder.ts';
import { ViewCounter } from './views/viewCounter.ts';
import { ViewFlusher } from './views/viewFlusher.ts';

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
}

export async function createApp(config: Config, logger: Logger, options: AppOptions = {}): Promise<App> {
  // Before anything is opened: a server that must not start has nothing to close.
  assertSafeToServe(config);
  const schema = buildSchema();
  const database = await openDatabase(config);
  if (database.kind === 'embedded') await prepareEmbedded(database, config, logger);

  const keys = new CacheKeys(config.cachePrefix);
  const kinds = cachedKindsFromSchema(schema, { absentTtlSeconds: config.absentTtlSeconds, graceEnabled: config.graceEnabled });
  const addresses = new CacheAddresses(keys, kinds);
  const instanceId = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const events = new EventEmitter<AppEvents>();
  const purge = options.purge ?? loggingPurgeHook(logger);
  const cache = await createCacheStack({
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
    onInvalidated: (tags) => {
      Promise.resolve()
        .then(() => purge(tags))
        .catch((error: unknown) => logger.warn({ err: error, tags }, 'purge hook failed'));
    },
  });
  const { readThrough, invalidator, redis } = cache;
  const connect = (to: NonNullable<ReturnType<typeof redisTarget>>) => createRedisClient({ ...to, commandTimeoutMs: config.redisCommandTimeoutMs });
  const persistedQueries =
    redis && cache.guard
      ? new PersistedQueryCache({ redis, guard: cache.guard, prefix: keys.keyspace, ttlSeconds: config.apqTtlSeconds, maxEntries: config.apqMaxEntries })
      : undefined;

  // Write-behind product views: buffered in the views Redis (a store, not the cache: see config.ts) and
  // flushed in batches, or straight to the database without one.
  const viewsTarget = viewsRedisTarget(config);
  const viewsRedis = viewsTarget ? connect(viewsTarget) : undefined;
  const viewsGuard = new TierGuard({ tier: 'views', logger, timeoutMs: config.redisCommandTimeoutMs });
  viewsRedis?.on('error', (error) => viewsGuard.markDown(error));
  if (viewsRedis) await waitUntilReady(viewsRedis, 2000);
  const viewCounter = viewsRedis
    ? new ViewCounter({ redis: viewsRedis, prefix: config.cachePrefix, prisma: database.prisma, logger, guard: viewsGuard })
    : undefined;
  // The flusher's stream commands get their own connection: background batches never queue behind, or in front of, requests.
  const flusherRedis = viewsTarget ? connect(viewsTarget) : undefined;
  // Failures surface (and are logged once) through the flush loop; the client only reconnects.
  flusherRedis?.on('error', () => {});
  // Each role's Redis must be able to keep its promise: a setting that breaks one is a warning, never a failed start.
  await checkRedisRoles({ cache: redis, views: viewsRedis }, { logger, timeoutMs: config.redisCommandTimeoutMs });
  const viewFlusher = flusherRedis
    ? new ViewFlusher({
        redis: flusherRedis,
        prisma: database.prisma,
        prefix: config.cachePrefix,
        consumer: instanceId,
        batchSize: config.viewFlushBatchSize,
        intervalMs: config.viewFlushIntervalMs,
        claimIdleMs: config.viewFlushClaimIdleMs,
        logger,
        // The flushed rows' viewCount (and version) changed under the cache.
        onFlushed: async (productIds) => {
          await invalidator.invalidate(productIds.map((id) => tags.entity('Product', id)));
        },
      })
    : undefined;

  const loaderDeps = {
    readThrough,
    addresses,
    kinds,
    queries: new CatalogQueries(database.prisma),
    requestCache: config.cacheTiers.has('l1'),
    ...(viewCounter ? { pendingViews: (ids: readonly number[]) => viewCounter.pendingMany(ids) } : {}),
  };
  const mutationDeps = {
    writes: new CatalogWrites(database.prisma),
    readThrough,
    invalidator,
    addresses,
    kinds,
    views: viewCounter ?? new DirectViewRecorder(database.prisma),
  };

  let draining = false;
  const http = createServer({
    headersTimeout: config.http.headersTimeoutMs,
    requestTimeout: config.http.requestTimeoutMs,
    // Node checks both timeouts on this interval (30 s by default), so a slow client is cut off
    // at most a second past its bound.
    connectionsCheckingInterval: 1000,
  });
  const limits = operationLimits(config.limits, schema);
  const apollo = new ApolloServer<RequestContext>({
    schema,
    logger: logger.child({ component: 'apollo' }),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: http }),
      // The HTTP layer writes Cache-Control itself, with what Apollo's header cannot say.
      ApolloServerPluginCacheControl({ calculateHttpHeaders: false }),
      responsePolicyPlugin(),
      authorizationPlugin(schema),
      ...(limits.plugin ? [limits.plugin] : []),
    ],
    parseOptions: limits.parseOptions,
    validationRules: limits.validationRules,
    documentStore: boundedDocumentStore(DOCUMENT_STORE_BYTES),
    formatError: clientErrorFormatter(logger),
    // One notion of production, the config's, for everything Apollo would decide from NODE_ENV
    // itself: no introspection, and no "Did you mean …?" naming fields to a client that cannot
    // introspect. Stack traces never: a deliberate error's is noise, and others are masked.
    introspection: !config.production,
    hideSchemaDetailsFromClientErrors: config.production,
    includeStacktraceInErrorResponses: false,
    // Shared by every instance when there is an L3: a CDN's hash-only GET may reach any of them.
    persistedQueries: persistedQueries ? { cache: persistedQueries, ttl: config.apqTtlSeconds } : {},
    // main.ts owns the signals: Apollo's own handler would race stop() (a second concurrent
    // stop() in Apollo 5.5 never resolves) and skip closing Redis and the database.
    stopOnTerminationSignals: false,
  });
  const secret = tokenSecret(config);
  if (secret.development) logger.warn('AUTH_TOKEN_SECRET is not set: Bearer tokens are signed with the development secret, which anyone can read');
  const graphql: GraphQLEndpoint = {
    apollo,
    context: (viewer) => createContext(loaderDeps, (loaders, viewer) => createMutations(mutationDeps, loaders, viewer), viewer),
    tokens: new BearerTokens({ secret: secret.secret }),
    responses: new ResponseTier({
      stack: config.responseCache && (cache.local || cache.shared) ? cache : undefined,
      keys,
      kind: responseKind(schema),
      tagLifetimeMs: (tag) => addresses.tagLifetimeMs(tag),
      headers: { policies: typeHttpPolicies(schema), tagHeader: config.cacheTagHeader },
      maxStoredBytes: config.http.maxStoredResponseBytes,
      logger,
    }),
    logger,
    limits: config.http,
    onExecute: () => events.emit('execution'),
  };
  const healthChecks = {
    database: () => database.ping(),
    cacheTiers: () => ({
      L2: cache.local ? (cache.trusted() ? ('up' as const) : ('paused' as const)) : ('off' as const),
      L3: cache.guard ? cache.guard.state : ('off' as const),
    }),
    draining: () => draining,
  };

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    route(req, res).catch((error: unknown) => {
      // A client that hung up is not the server's failure: no error line for anyone to flood.
      if (error instanceof ClientGoneError) logger.debug({ err: error, url: req.url }, 'client went away');
      else logger.error({ err: error, url: req.url }, 'request failed');
      if (!res.headersSent && !res.destroyed) sendJsonError(res, 500, 'Internal server error.');
      else res.destroy();
    });
  });
  // Node answers `Expect: 100-continue` itself unless this is handled: only a body that would be
  // read is asked for, and a declared one over the limit is refused (413) without being sent.
  http.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!declaresTooLargeBody(req.headers, config.http.maxBodyBytes)) res.writeContinue();
    http.emit('request', req, res);
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (pathname === '/graphql') return handleGraphQL(req, res, graphql);
    if (pathname === '/health/live') return sendLive(res);
    if (pathname === '/health/ready') return sendReady(res, healthChecks);
    sendJsonError(res, 404, `No route for ${pathname}; the API is at /graphql.`);
  }

  await apollo.start();
  viewFlusher?.start();

  return {
    http,
    database,
    cache,
    keys,
    addresses,
    events,
    kinds,
    tierNames: [...(loaderDeps.requestCache ? ['L1'] : []), ...(cache.local ? ['L2'] : []), ...(cache.shared ? ['L3'] : [])],
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        http.once('error', reject);
        http.listen(port, host, () => resolve());
      });
      const address = http.address() as AddressInfo;
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    async stop() {
      draining = true;
      // Stops the HTTP server and waits for requests in flight (the drain plugin).
      await apollo.stop();
      // Buffered views go to the database before the connections close.
      await viewFlusher?.stop();
      if (flusherRedis) await closeRedisClient(flusherRedis);
      if (viewsRedis) await closeRedisClient(viewsRedis);
      await cache.close();
      await database.close();
    },
  };
}

// Private:

/** The embedded database migrates itself, and seeds itself when empty, so `npm start` just works. */
async function prepareEmbedded(database: Database, config: Config, logger: Logger): Promise<void> {
  const session = await database.openSession();
  try {
    await applyMigrations(session, path.resolve(import.meta.dirname, '../prisma/migrations'), (migration) =>
      logger.info({ migration }, 'migration applied'),
    );
  } finally {
    await session.close();
  }
  if ((await database.prisma.product.count()) === 0) {
    logger.info({ products: config.seedProducts, dataDir: config.pgliteDataDir }, 'seeding the embedded database');
    await seedCatalog(database.prisma, { products: config.seedProducts });
    // Known tokens for a demo: deterministic under one secret (README, "Viewers").
    const tokens = new BearerTokens({ secret: tokenSecret(config).secret });
    logger.info({ user1: await signSeededUser(tokens, 1), user2: await signSeededUser(tokens, 2) }, 'seeded; Bearer tokens of users 1 (admin) and 2 (npm run token -- <id> for others)');
  }
}
