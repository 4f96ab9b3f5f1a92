import { buildSchema, Kind, parse, type OperationDefinitionNode } from 'graphql';
import { describe, expect, it } from 'vitest';
import { requiredRoleOf } from '../../src/auth/authorization.ts';

const SDL = `
  enum Role { USER ADMIN }
  directive @auth(requires: Role = USER) on FIELD_DEFINITION
  type Query { open: Int, mine: Secret @auth, node: Node }
  interface Node { id: ID }
  type Secret implements Node { id: ID, keys: [String] @auth(requires: ADMIN) }
  type Mutation { wipe: Boolean @auth(requires: ADMIN), note: Boolean @auth }
`;

describe('requiredRoleOf: the strictest @auth an operation reaches', () => {
  const required = requiredRoleOf(buildSchema(SDL));
  const of = (text: string, name?: string) => {
    const document = parse(text);
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (name === undefined || d.name?.value === name));
    return required(document, operation!);
  };

  it('is nothing for open fields, the directive default (USER) when left out, and the strictest one reached', () => {
    expect(of('{ open }')).toBeUndefined();
    expect(of('{ mine { id } }')).toEqual({ role: 'USER', field: 'Query.mine' });
    expect(of('{ mine { keys } }')).toEqual({ role: 'ADMIN', field: 'Secret.keys' });
    expect(of('mutation { note wipe }')).toEqual({ role: 'ADMIN', field: 'Mutation.wipe' });
  });

  it('follows aliases, fragments (once each, cycles included) and inline fragments on interfaces', () => {
    expect(of('{ a: open b: mine { id } }')?.role).toBe('USER');
    expect(of('{ ...F } fragment F on Query { mine { ...G } } fragment G on Secret { keys }')?.role).toBe('ADMIN');
    expect(of('{ node { ... on Secret { keys } } }')?.role).toBe('ADMIN');
    expect(of('{ ...F } fragment F on Query { open ...F }')).toBeUndefined();
  });

  it('judges only the chosen operation', () => {
    const document = 'query Read { open } mutation Wipe { wipe }';
    expect(of(document, 'Read')).toBeUndefined();
    expect(of(document, 'Wipe')?.role).toBe('ADMIN');
  });

  it('refuses at startup a role it does not know, rather than treat it as USER', () => {
    const schema = buildSchema(SDL.replace('enum Role { USER ADMIN }', 'enum Role { USER ADMIN AUDITOR }').replace('note: Boolean @auth', 'note: Boolean @auth(requires: AUDITOR)'));
    expect(() => requiredRoleOf(schema)).toThrow(/@auth\(requires: AUDITOR\) on note: unknown role/);
  });
});
