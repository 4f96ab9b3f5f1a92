import type { ApolloServerPlugin } from '@apollo/server';
import type { RequestContext } from '../schema/context.ts';

/**
 * Tells the HTTP layer whether a response may be cached, and for how long, from Apollo's own
 * cache-control plugin (which must run with `calculateHttpHeaders: false`: the HTTP layer writes
 * the header, with what Apollo's cannot say). Only a query with no errors and a policy Apollo
 * deems cacheable (maxAge > 0) is; mutations, errors and partial data never are.
 */
export function responsePolicyPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response, operation, overallCachePolicy }) {
          if (operation) contextValue.outcome.operation = operation.operation;
          if (operation?.operation !== 'query') return;
          if (response.body.kind !== 'single' || response.body.singleResult.errors) return;
          if (response.http.status !== undefined && response.http.status !== 200) return;
          const policy = overallCachePolicy.policyIfCacheable();
          if (policy) contextValue.outcome.cacheable = { maxAge: policy.maxAge, scope: policy.scope === 'PRIVATE' ? 'PRIVATE' : 'PUBLIC' };
        },
      };
    },
  };
}
