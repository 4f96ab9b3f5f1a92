import type { ApolloServerPlugin } from '@apollo/server';
import { OperationTypeNode, type OperationDefinitionNode } from 'graphql';
import type { RequestContext } from '../schema/context.ts';

/**
 * Tells the HTTP layer whether a response may be cached, and for how long, from Apollo's own
 * cache-control plugin (which must run with `calculateHttpHeaders: false`: the HTTP layer writes
 * the header, with what Apollo's cannot say). Only a query with no errors and a policy Apollo
 * deems cacheable (maxAge > 0) is; mutations, errors, partial data, operations that reach an `@auth`
 * field and requests carrying variables the operation does not declare never are. It also records the operation's type.
 */
export function responsePolicyPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, request, response, operation, overallCachePolicy }) {
          if (operation) contextValue.outcome.operation = operation.operation;
          if (operation?.operation !== OperationTypeNode.QUERY) return;
          const { outcome } = contextValue;
          if (response.body.kind !== 'single' || response.body.singleResult.errors) return void (outcome.refused = 'errors');
          if (outcome.restricted) return void (outcome.refused = 'private');
          // Variables the operation does not declare change the request's identity, not its answer:
          // stored, each distinct junk value would be one more entry with the same bytes.
          if (request.variables && hasUndeclared(request.variables, operation)) return;
          if (response.http.status !== undefined && response.http.status !== 200) return void (outcome.refused = 'errors');
          const policy = overallCachePolicy.policyIfCacheable();
          if (policy) outcome.cacheable = { maxAge: policy.maxAge, scope: policy.scope === 'PRIVATE' ? 'PRIVATE' : 'PUBLIC' };
          else outcome.refused = 'max_age_zero';
        },
      };
    },
  };
}

// Private:

function hasUndeclared(variables: Record<string, unknown>, operation: OperationDefinitionNode): boolean {
  const declared = operation.variableDefinitions ?? [];
  for (const name of Object.keys(variables)) {
    if (!declared.some((definition) => definition.variable.name.value === name)) return true;
  }
  return false;
}
