import { getNullableType, isListType, type DocumentNode, type GraphQLField, type GraphQLSchema } from 'graphql';
import { getComplexity, type ComplexityEstimator } from 'graphql-query-complexity';
import { fieldDirectives } from '../schema/directives.ts';

/**
 * The cost model: what an operation makes the server do. Every field it asks for costs 1 (an
 * execution's time goes into completing fields, scalars as much as objects), a long text the
 * `@cost(weight:)` it declares (a 5,000-character text costs 10), and a list multiplies what it
 * selects by its size, after the IBM cost directive. The size is declared per field with
 * `@listSize`: the value of its first set `slicingArguments` (`first`, with the schema default when
 * left out), else its `assumedSize`; a list that declares neither counts as
 * {@link UNDECLARED_LIST_SIZE}. So `products(first: 100) { id reviews(first: 100) { id } }` costs
 * 100 * (1 + 1 + 100 * (1 + 1)) = 20,200: the fields it could make the server complete and send.
 */
export class OperationCost {
  readonly #schema: GraphQLSchema;
  readonly #estimators: ComplexityEstimator[];

  constructor(schema: GraphQLSchema) {
    this.#schema = schema;
    this.#estimators = [costEstimator(declaredWeights(schema), declaredListSizes(schema))];
  }

  /**
   * The cost of one operation with these variables, or undefined when the variables do not fit the
   * operation (execution refuses them, with the error that names them). Pure.
   */
  of(document: DocumentNode, operationName: string | undefined, variables: Record<string, unknown>): number | undefined {
    try {
      return getComplexity({ schema: this.#schema, query: document, variables, estimators: this.#estimators, ...(operationName ? { operationName } : {}), maxQueryNodes: MAX_NODES });
    } catch (error) {
      // The library throws for bad variables (execution will name them) and for a document that
      // expands, through its fragments, past MAX_NODES: that one is over any budget.
      if (error instanceof Error && /maximum allowed number of nodes/i.test(error.message)) return Number.POSITIVE_INFINITY;
      return undefined;
    }
  }
}

/** What a list with no `@listSize` counts as: the largest page any list argument accepts. */
export const UNDECLARED_LIST_SIZE = 100;

// Private:

/** Fields (fragments expanded) the cost walk visits at most: a fragment fan-out past it is refused, not walked. */
const MAX_NODES = 10_000;

interface ListSize {
  readonly assumedSize: number | undefined;
  readonly slicingArguments: readonly string[];
}

function costEstimator(weights: Map<GraphQLField<unknown, unknown>, number>, sizes: Map<GraphQLField<unknown, unknown>, ListSize>): ComplexityEstimator {
  return ({ field, args, childComplexity }) => {
    // Introspection is the schema's own size, bounded, and Sandbox and codegen must be able to ask for it.
    if (field.name.startsWith('__')) return 0;
    const own = weights.get(field) ?? 1;
    if (!isListType(getNullableType(field.type))) return own + childComplexity;
    return listSize(sizes.get(field), args) * (own + childComplexity);
  };
}

function listSize(declared: ListSize | undefined, args: Record<string, unknown>): number {
  if (declared === undefined) return UNDECLARED_LIST_SIZE;
  for (const name of declared.slicingArguments) {
    const value = args[name];
    // Out-of-range values are the resolver's to refuse; for the cost, they count as they are.
    if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, value);
  }
  return declared.assumedSize ?? UNDECLARED_LIST_SIZE;
}

/** Every field's `@cost(weight:)`, read once from the SDL. */
function declaredWeights(schema: GraphQLSchema): Map<GraphQLField<unknown, unknown>, number> {
  const weights = new Map<GraphQLField<unknown, unknown>, number>();
  for (const [field, { weight }] of fieldDirectives(schema, 'cost')) weights.set(field, weight as number);
  return weights;
}

/** Every field's `@listSize`, read once from the SDL. */
function declaredListSizes(schema: GraphQLSchema): Map<GraphQLField<unknown, unknown>, ListSize> {
  const sizes = new Map<GraphQLField<unknown, unknown>, ListSize>();
  for (const [field, { assumedSize, slicingArguments }] of fieldDirectives(schema, 'listSize')) {
    sizes.set(field, { assumedSize: assumedSize as number | undefined, slicingArguments: (slicingArguments as string[] | undefined) ?? [] });
  }
  return sizes;
}
