import type { ApolloServerPlugin, BaseContext } from '@apollo/server';

/** What the reference server has done since it started: how the bench tells that its load was served from Apollo's cache. */
export interface OperationCounters {
  /** GraphQL requests that reached Apollo's request pipeline. */
  requests: number;
  /** Responses Apollo's response cache plugin answered (its `metrics.responseCacheHit`). */
  cacheHits: number;
  /** Operations the resolvers executed: the requests the plugin did not answer. */
  executions: number;
  /** SQL statements Prisma sent. */
  statements: number;
}

/**
 * Counts requests, hits and executions. A hit never reaches `executionDidStart`: the response cache
 * plugin answers in `responseForOperation`, before execution, so executions count exactly the misses.
 */
export function operationCountingPlugin(counters: OperationCounters): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      counters.requests += 1;
      return {
        async executionDidStart() {
          counters.executions += 1;
        },
        async willSendResponse(requestContext) {
          if (requestContext.metrics.responseCacheHit) counters.cacheHits += 1;
        },
      };
    },
  };
}
