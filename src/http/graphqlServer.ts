import type { Server } from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import type { GraphQLSchema } from 'graphql';
import { authorizationPlugin } from '../auth/authorization.ts';
import type { Config } from '../config/config.ts';
import { boundedDocumentStore, DOCUMENT_STORE_BYTES } from '../limits/documentStore.ts';
import { operationLimits } from '../limits/operationLimits.ts';
import type { Logger } from '../logging/logger.ts';
import { tracingPlugin } from '../observability/tracingPlugin.ts';
import { responsePolicyPlugin } from '../responses/responsePolicyPlugin.ts';
import type { RequestContext } from '../schema/context.ts';
import { clientErrorFormatter, errorReportingPlugin } from './clientErrors.ts';
import type { PersistedQueryCache } from './persistedQueryCache.ts';

export interface GraphQLServerOptions {
  readonly config: Config;
  readonly schema: GraphQLSchema;
  /** Drained on stop: requests in flight finish before Apollo stops. */
  readonly http: Server;
  /** Shared by every instance when there is an L3; without it, Apollo's in-memory APQ cache. */
  readonly persistedQueries: PersistedQueryCache | undefined;
  /** Run after the server's own plugins. */
  readonly plugins: readonly ApolloServerPlugin<RequestContext>[];
  readonly logger: Logger;
}

/** Apollo Server over the schema, with this project's plugins and limits; started, so requests can run. */
export async function startGraphQLServer(options: GraphQLServerOptions): Promise<ApolloServer<RequestContext>> {
  const { config, schema, http, persistedQueries, logger } = options;
  const limits = operationLimits(config.limits, schema);
  const apollo = new ApolloServer<RequestContext>({
    schema,
    logger: logger.child({ component: 'apollo' }),
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer: http }),
      // The HTTP layer writes Cache-Control itself, with what Apollo's header cannot say.
      ApolloServerPluginCacheControl({ calculateHttpHeaders: false }),
      responsePolicyPlugin(),
      tracingPlugin(),
      authorizationPlugin(schema),
      ...(limits.plugin ? [limits.plugin] : []),
      errorReportingPlugin({ logger, retryAfterSeconds: config.retryAfterSeconds }),
      ...options.plugins,
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
    persistedQueries: persistedQueries ? { cache: persistedQueries, ttl: config.apqTtlSeconds } : {},
    // main.ts owns the signals: Apollo's own handler would race stop() (a second concurrent
    // stop() in Apollo 5.5 never resolves) and skip closing Redis and the database.
    stopOnTerminationSignals: false,
  });
  await apollo.start();
  return apollo;
}
