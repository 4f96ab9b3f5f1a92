import type { ApolloServerPlugin } from '@apollo/server';
import { SpanStatusCode } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE } from '@opentelemetry/semantic-conventions';
import type { RequestContext } from '../schema/context.ts';
import { ATTR, operationSpan } from './tracing.ts';

/**
 * Names the operation span that the HTTP layer started around Apollo's execution (inOperationSpan):
 * the span is named by the operation's type (`query`, `mutation`), as the semantic conventions
 * advise, the client's operation name being an attribute only (it is unbounded). An operation Apollo
 * cannot resolve keeps the name `GraphQL Operation`. A response with errors sets the span's status to
 * ERROR, with the first error's code as `error.type`.
 */
export function tracingPlugin(): ApolloServerPlugin<RequestContext> {
  return {
    async requestDidStart() {
      const span = operationSpan();
      if (!span) return;
      return {
        async didResolveOperation({ operation, operationName }) {
          if (!operation) return;
          span.updateName(operation.operation);
          span.setAttribute(ATTR.operationType, operation.operation);
          if (operationName) span.setAttribute(ATTR.operationName, operationName);
        },
        async didEncounterErrors({ errors }) {
          const first = errors[0];
          const code = first?.extensions.code;
          span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : 'GraphQLError');
          span.setStatus({ code: SpanStatusCode.ERROR, ...(first ? { message: first.message } : {}) });
        },
      };
    },
  };
}
