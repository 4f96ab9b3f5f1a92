import type { ApolloServerPlugin } from '@apollo/server';
import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { GraphQLError, type GraphQLSchema, type ParseOptions, type ValidationContext, type ValidationRule } from 'graphql';
import type { OperationLimits } from '../config/config.ts';
import { OperationLimitError } from '../errors.ts';
import { maxMutationFieldsRule } from './mutationFields.ts';
import { OperationCost } from './operationCost.ts';

/** What Apollo needs to enforce the limits: parse options, validation rules and a plugin. */
export interface OperationLimitsSetup {
  readonly parseOptions: ParseOptions;
  readonly validationRules: ValidationRule[];
  readonly plugin: ApolloServerPlugin | undefined;
}

/**
 * Every limit on one operation, each checked before anything executes, in the cheapest place:
 *
 * - tokens, while parsing: graphql-js stops at the first token over the limit;
 * - depth, aliases and directives (graphql-armor's rules) and mutation fields, while validating:
 *   Apollo validates a query text once, then keeps its document, so a repeated query pays nothing;
 * - cost, once variables are known (a list's size may be a variable), before execution.
 *
 * A refused operation is a 400 whose message names the limit, the value found and the maximum.
 * Nothing over a limit executes, so nothing over a limit is ever stored by the response tier: that
 * is why a response-tier hit may skip these checks.
 */
export function operationLimits(limits: OperationLimits, schema: GraphQLSchema): OperationLimitsSetup {
  if (!limits.enabled) return { parseOptions: {}, validationRules: [], plugin: undefined };
  const cost = new OperationCost(schema);
  return {
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: [
      maxDepthRule({ n: limits.maxDepth, ...reported }),
      // __typename counts too: graphql-armor lets it through by default, and 300 aliases of it cost
      // as much to complete as 300 of anything.
      maxAliasesRule({ n: limits.maxAliases, allowList: [], ...reported }),
      maxDirectivesRule({ n: limits.maxDirectives, ...reported }),
      maxMutationFieldsRule(limits.maxMutationFields),
    ],
    plugin: {
      async requestDidStart() {
        return {
          // graphql-js words its refusal "Document contains more that N tokens": say it as the
          // other limits do, naming the limit and the maximum.
          async didEncounterErrors({ errors }) {
            for (const error of errors) {
              if (TOKEN_LIMIT_MESSAGE.test(error.message)) error.message = `Syntax Error: Tokens limit of ${limits.maxTokens} exceeded, found more than ${limits.maxTokens}; parsing stopped there.`;
            }
          },
          async didResolveOperation({ document, request, operationName }) {
            const found = cost.of(document, operationName ?? undefined, request.variables ?? {});
            if (found !== undefined && found > limits.maxCost) throw new OperationLimitError('cost', found, limits.maxCost);
          },
        };
      },
    },
  };
}

// Private:

/**
 * graphql-armor's rules throw by default, and an exception out of validation is a 500 in Apollo;
 * reported to the validation context instead, a refusal is a 400 like every other invalid
 * operation. Its "Syntax Error: " prefix goes: the syntax is fine, a limit is not.
 */
const reported = {
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')))],
};

const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more tha[tn] \d+ tokens/;
