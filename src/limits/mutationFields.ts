import { Kind, OperationTypeNode, type ASTVisitor, type SelectionSetNode, type ValidationContext } from 'graphql';
import { OperationLimitError } from '../errors.ts';

/**
 * A validation rule: a mutation operation may hold at most `max` root fields, counting aliases and
 * fields spread from fragments. Each is a separate write, so one request cannot make hundreds.
 */
export function maxMutationFieldsRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    OperationDefinition(operation) {
      if (operation.operation !== OperationTypeNode.MUTATION) return;
      const count = rootFields(operation.selectionSet, context, new Set());
      if (count > max) context.reportError(new OperationLimitError('mutation fields', count, max));
    },
  });
}

// Private:

function rootFields(selectionSet: SelectionSetNode, context: ValidationContext, seen: Set<string>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value !== '__typename') count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += rootFields(selection.selectionSet, context, seen);
    } else if (!seen.has(selection.name.value)) {
      // Each fragment counted once: a cycle is another rule's error, and must not loop here.
      seen.add(selection.name.value);
      const fragment = context.getFragment(selection.name.value);
      if (fragment) count += rootFields(fragment.selectionSet, context, seen);
    }
  }
  return count;
}
