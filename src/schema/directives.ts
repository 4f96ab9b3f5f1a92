import { getDirectiveValues, isInterfaceType, isObjectType, type GraphQLField, type GraphQLSchema } from 'graphql';

/**
 * Every field of the schema's object and interface types that carries the directive `@name`, with
 * its argument values as graphql-js coerces them (the directive's defaults applied). Read once, at
 * startup, by whatever enforces the directive.
 */
export function fieldDirectives(schema: GraphQLSchema, name: string): Map<GraphQLField<unknown, unknown>, Record<string, unknown>> {
  const directive = schema.getDirective(name);
  const found = new Map<GraphQLField<unknown, unknown>, Record<string, unknown>>();
  if (!directive) return found;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) && !isInterfaceType(type)) continue;
    for (const field of Object.values(type.getFields())) {
      const values = field.astNode ? getDirectiveValues(directive, field.astNode) : undefined;
      if (values) found.set(field, values);
    }
  }
  return found;
}
