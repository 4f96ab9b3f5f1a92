import type { ApolloServerPlugin } from '@apollo/server';
import {
  getNamedType,
  isInterfaceType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { AuthenticationRequiredError, ForbiddenError } from '../errors.ts';
import { fieldDirectives } from '../schema/directives.ts';
import type { RequestContext } from '../schema/context.ts';
import { roleGrants, type Role } from './roles.ts';

/** The strictest `@auth` an operation reaches, and the first field that asks for it. */
export interface RequiredRole {
  readonly role: Role;
  /** `Type.field`, for the error message. */
  readonly field: string;
}

/**
 * Refuses, before anything executes, an operation that reaches a field whose `@auth(requires:)` the
 * viewer does not meet: 401 when anonymous, 403 when signed in. The one place where the schema's
 * write rules are enforced; resolvers check only what depends on data (whose review it is).
 */
export function authorizationPlugin(schema: GraphQLSchema): ApolloServerPlugin<RequestContext> {
  const requiredRole = requiredRoleOf(schema);
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ document, operation, contextValue }) {
          if (!operation) return;
          const required = requiredRole(document, operation);
          if (required === undefined) return;
          const { viewer } = contextValue;
          // Its answer depends on who asks, beyond what a response key says: never stored, so a
          // response-tier hit, which runs no plugin, can never serve it.
          contextValue.outcome.restricted = true;
          if (viewer.role === null) throw new AuthenticationRequiredError(required.field, required.role);
          if (!roleGrants(viewer.role, required.role)) {
            throw new ForbiddenError(required.field, `requires role ${required.role}; the viewer's role is ${viewer.role}`);
          }
        },
      };
    },
  };
}

/**
 * The strictest role an operation needs, memoised per parsed document (Apollo keeps one document
 * object per query text in its document store, so a repeated query is one WeakMap lookup). Pure.
 */
export function requiredRoleOf(schema: GraphQLSchema): (document: DocumentNode, operation: OperationDefinitionNode) => RequiredRole | undefined {
  const fieldRoles = authDirectives(schema);
  const memo = new WeakMap<OperationDefinitionNode, RequiredRole | null>();
  return (document, operation) => {
    let found = memo.get(operation);
    if (found === undefined) {
      found = fieldRoles.size === 0 ? null : (strictestRole(schema, fieldRoles, document, operation) ?? null);
      memo.set(operation, found);
    }
    return found ?? undefined;
  };
}

// Private:

/** Every field that declares `@auth`, with the role it requires. */
function authDirectives(schema: GraphQLSchema): Map<GraphQLField<unknown, unknown>, Role> {
  const roles = new Map<GraphQLField<unknown, unknown>, Role>();
  for (const [field, { requires }] of fieldDirectives(schema, 'auth')) {
    // A role added to the schema's enum but not here must stop startup, not pass as USER.
    if (requires !== 'ADMIN' && requires !== 'USER') throw new TypeError(`@auth(requires: ${String(requires)}) on ${field.name}: unknown role`);
    roles.set(field, requires);
  }
  return roles;
}

/**
 * Walks every field the operation can reach, through fragments, whatever `@skip` or `@include`
 * say: a field that a variable could switch on counts as asked for.
 */
function strictestRole(schema: GraphQLSchema, fieldRoles: Map<GraphQLField<unknown, unknown>, Role>, document: DocumentNode, operation: OperationDefinitionNode): RequiredRole | undefined {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const visitedFragments = new Set<string>();
  let strictest: RequiredRole | undefined;

  const walk = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined | null): void => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        const field = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[selection.name.value] : undefined;
        if (!field) continue;
        const role = fieldRoles.get(field);
        if (role !== undefined && (strictest === undefined || (role === 'ADMIN' && strictest.role !== 'ADMIN'))) {
          strictest = { role, field: `${parent?.name}.${field.name}` };
        }
        if (selection.selectionSet) walk(selection.selectionSet, getNamedType(field.type));
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        walk(selection.selectionSet, selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent);
      } else if (!visitedFragments.has(selection.name.value)) {
        visitedFragments.add(selection.name.value);
        const fragment = fragments.get(selection.name.value);
        if (fragment) walk(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value));
      }
    }
  };
  walk(operation.selectionSet, schema.getRootType(operation.operation));
  return strictest;
}
