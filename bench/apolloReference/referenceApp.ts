// The reference the response tier is measured against: Apollo Server 5 with Apollo's own whole-response
// cache, @apollo/server-plugin-response-cache, over this project's schema, resolvers and database.
// Below the plugin there is only L1 (the request's DataLoaders, batching and memoising within one
// request): no L2, no L3. So a repeated query is answered by Apollo's plugin, or executed against the
// database; nothing else of this project caches it.
//
// It is served on plain node:http, as src/app.ts serves the real server (apolloHttpHandler.ts: Apollo's
// integration contract, nothing else), not by startStandaloneServer, whose body-parser, CORS and
// finalhandler layers the real server does not have: the comparison is then between the two caches,
// not between two HTTP stacks. Every request is anonymous (no Bearer tokens are read).
import type { ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import responseCachePlugin from '@apollo/server-plugin-response-cache';
import { ANONYMOUS } from '../../src/auth/viewer.ts';
import { Invalidator } from '../../src/cache/coherence/invalidator.ts';
import { CacheKeys } from '../../src/cache/keys.ts';
import { HeardGenerations } from '../../src/cache/coherence/heardGenerations.ts';
import { ReadThrough } from '../../src/cache/readThrough/readThrough.ts';
import { CacheAddresses } from '../../src/catalog/cacheAddresses.ts';
import { cachedKindsFromSchema } from '../../src/catalog/cachedKinds.ts';
import { CatalogQueries } from '../../src/catalog/queries.ts';
import { CatalogWrites } from '../../src/catalog/writes.ts';
import type { Config } from '../../src/config/config.ts';
import { openDatabase } from '../../src/database/database.ts';
import { sendReady } from '../../src/http/health.ts';
import type { Logger } from '../../src/logging/logger.ts';
import { createMutations } from '../../src/mutations/catalogMutations.ts';
import { createContext, type RequestContext } from '../../src/schema/context.ts';
import { buildSchema } from '../../src/schema/schema.ts';
import { DirectViewRecorder } from '../../src/views/directViewRecorder.ts';
import { createHttpServer } from '../../src/http/httpServer.ts';
import { Lifecycle } from '../../src/process/lifecycle.ts';
import { handleWithApollo } from './apolloHttpHandler.ts';
import { operationCountingPlugin, type OperationCounters } from './operationCounters.ts';

export interface ReferenceApp {
  /** Listens on `port` and resolves to the base URL. */
  listen(port: number, host: string): Promise<string>;
  /** Finishes requests in flight, then closes the database. */
  stop(): Promise<void>;
}

/**
 * Wires the reference. Routes: POST/GET /graphql, GET /health/ready (what the bench polls before it
 * starts loading) and GET /counters ({@link OperationCounters}: whether the load was served from the cache).
 */
export async function createReferenceApp(config: Config, logger: Logger): Promise<ReferenceApp> {
  const lifecycle = new Lifecycle(logger);
  return lifecycle.openOrClose(async () => {
    const schema = buildSchema();
    const database = lifecycle.own('database', await openDatabase(config));

    // The project's loaders over a read-through with no shared tiers: every L1 miss is a database load.
    const readThrough = new ReadThrough({ tiers: {}, leaseWaitMs: config.leaseWaitMs, freshness: { beta: config.xfetchBeta } });
    const kinds = cachedKindsFromSchema(schema, { absentTtlSeconds: config.absentTtlSeconds, graceEnabled: config.graceEnabled });
    const addresses = new CacheAddresses(new CacheKeys(config.cachePrefix), kinds);
    const loaderDeps = { readThrough, addresses, kinds, queries: new CatalogQueries(database.prisma), requestCache: true };
    // Mutations work (nothing to invalidate but Apollo's cache, which has no invalidation); the bench only reads.
    const invalidator = lifecycle.own('invalidator', new Invalidator({ dropLocal: () => undefined, heard: new HeardGenerations(), logger }));
    const mutationDeps = { writes: new CatalogWrites(database.prisma), readThrough, invalidator, addresses, kinds, views: new DirectViewRecorder(database.prisma) };

    const counters: OperationCounters = { requests: 0, cacheHits: 0, executions: 0, statements: 0 };
    // The project's HTTP server, with the same bounds: the comparison is between the two caches.
    const http = lifecycle.own('http', createHttpServer(config.http, logger));
    const apollo = new ApolloServer<RequestContext>({
      schema,
      logger: logger.child({ component: 'apollo' }),
      // `cache` left unset: Apollo's default, a bounded in-memory LRU (30 MiB), which the plugin uses for its entries.
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer: http.server }),
        // Installed implicitly anyway; named here because the plugin caches only what it computes a policy for.
        // The schema's @cacheControl gives the bench query maxAge 120 (Review's), PUBLIC.
        ApolloServerPluginCacheControl({ defaultMaxAge: 0 }),
        // Defaults throughout: no sessionId (PUBLIC responses, one entry per query and variables), the server's cache.
        responseCachePlugin(),
        operationCountingPlugin(counters),
      ],
      stopOnTerminationSignals: false,
    });
    await apollo.start();
    lifecycle.onClose('graphql', () => apollo.stop());
    const graphql = {
      server: apollo,
      context: async () => createContext(loaderDeps, (loaders, viewer) => createMutations(mutationDeps, loaders, viewer), { viewer: ANONYMOUS }),
    };
    let draining = false;
    const healthChecks = {
      database: () => database.ping(),
      cacheTiers: () => ({ L2: 'off' as const, L3: 'off' as const }),
      draining: () => draining,
    };
    http.route({
      '/graphql': (req, res) => handleWithApollo(req, res, graphql),
      '/health/ready': (_req, res) => sendReady(res, healthChecks),
      '/counters': (_req, res) => sendCounters(res, { ...counters, statements: database.statementCount() }),
    });
    lifecycle.onClose('draining', () => void (draining = true));
    return { listen: (port, host) => http.listen(port, host), stop: () => lifecycle.close() };
  });
}

function sendCounters(res: ServerResponse, counters: OperationCounters): void {
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify(counters));
}
