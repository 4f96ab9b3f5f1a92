import { getNamedType, isCompositeType, isObjectType, valueFromASTUntyped, type DirectiveNode, type GraphQLField, type GraphQLObjectType, type GraphQLSchema } from 'graphql';

/**
 * Data TTLs for the L2 and L3 tiers, derived from the schema's `@cacheControl` directives: the schema
 * is the one source of truth for how long data may be served, in HTTP headers and in the data tiers
 * alike. Pure: reads the schema, does no I/O.
 */

/** A `@cacheControl` directive as written on a type or a field. */
export interface CacheHint {
  maxAge?: number;
  scope?: 'PUBLIC' | 'PRIVATE';
  inheritMaxAge?: boolean;
}

/** Reads `@cacheControl` from a type's or field's AST, as Apollo's cache-control plugin does. */
export function readCacheHint(node: { astNode?: { directives?: readonly DirectiveNode[] } | null | undefined }): CacheHint {
  const directive = node.astNode?.directives?.find((d) => d.name.value === 'cacheControl');
  const hint: CacheHint = {};
  for (const arg of directive?.arguments ?? []) {
    const value = valueFromASTUntyped(arg.value);
    if (arg.name.value === 'maxAge' && typeof value === 'number') hint.maxAge = value;
    if (arg.name.value === 'scope' && (value === 'PUBLIC' || value === 'PRIVATE')) hint.scope = value;
    if (arg.name.value === 'inheritMaxAge' && typeof value === 'boolean') hint.inheritMaxAge = value;
  }
  return hint;
}

/**
 * How long a cached entity of `typeName` may live, in seconds: its type's `maxAge`, lowered by the
 * `maxAge` of any scalar field it stores. The cached row holds every scalar field, so it must not
 * outlive its most volatile one: `Product.stock @cacheControl(maxAge: 10)` caps the Product row at 10 s
 * even though the type says 300. 0 means the type is not cached in the data tiers.
 */
export function entityTtlSeconds(schema: GraphQLSchema, typeName: string): number {
  const type = objectType(schema, typeName);
  let ttl = readCacheHint(type).maxAge ?? 0;
  for (const field of Object.values(type.getFields())) {
    if (isCompositeType(getNamedType(field.type))) continue;
    const fieldMaxAge = readCacheHint(field).maxAge;
    if (fieldMaxAge !== undefined) ttl = Math.min(ttl, fieldMaxAge);
  }
  return ttl;
}

/**
 * How long a cached id list for `parentType.fieldName` may live, in seconds: the field's own
 * `maxAge`, else the `maxAge` of the type it returns (Apollo's rule for composite fields). A list
 * stores only membership, not the items' scalars, so scalar field hints do not lower it.
 */
export function listTtlSeconds(schema: GraphQLSchema, parentType: string, fieldName: string): number {
  const field = objectType(schema, parentType).getFields()[fieldName];
  if (!field) throw new TypeError(`${parentType}.${fieldName} is not in the schema`);
  return readCacheHint(field).maxAge ?? returnedTypeMaxAge(field);
}

/**
 * How long past its TTL an entity of `typeName` may be served while one refresh runs, in seconds:
 * the type's `@cacheGrace(staleWhileRevalidate:)`, else 0 (never served stale).
 */
export function entityGraceSeconds(schema: GraphQLSchema, typeName: string): number {
  return readGrace(objectType(schema, typeName));
}

/** The grace of a list: that of the type it returns. */
export function listGraceSeconds(schema: GraphQLSchema, parentType: string, fieldName: string): number {
  const field = objectType(schema, parentType).getFields()[fieldName];
  if (!field) throw new TypeError(`${parentType}.${fieldName} is not in the schema`);
  const named = getNamedType(field.type);
  return isObjectType(named) ? readGrace(named) : 0;
}

/** An absent marker lives no longer than the entity it stands for, nor than the configured bound. */
export function absentTtlSeconds(entityTtl: number, configuredAbsentTtl: number): number {
  return Math.min(entityTtl, configuredAbsentTtl);
}

/** An Int argument of a directive on a type or field; undefined when absent. */
export function readDirectiveInt(node: { astNode?: { directives?: readonly DirectiveNode[] } | null | undefined }, directiveName: string, argumentName: string): number | undefined {
  const directive = node.astNode?.directives?.find((d) => d.name.value === directiveName);
  const arg = directive?.arguments?.find((a) => a.name.value === argumentName);
  const value = arg ? valueFromASTUntyped(arg.value) : undefined;
  return typeof value === 'number' ? value : undefined;
}

// Private:

function objectType(schema: GraphQLSchema, typeName: string): GraphQLObjectType {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new TypeError(`${typeName} is not an object type of the schema`);
  return type;
}

function readGrace(node: { astNode?: { directives?: readonly DirectiveNode[] } | null | undefined }): number {
  const value = readDirectiveInt(node, 'cacheGrace', 'staleWhileRevalidate');
  return value !== undefined && value > 0 ? value : 0;
}

function returnedTypeMaxAge(field: GraphQLField<unknown, unknown>): number {
  const named = getNamedType(field.type);
  return isObjectType(named) ? (readCacheHint(named).maxAge ?? 0) : 0;
}
