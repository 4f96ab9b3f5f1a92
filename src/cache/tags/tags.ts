/**
 * The names of cache tags. Every cached item carries tags; invalidating a tag makes every item that
 * carries it unservable, in every tier and on every instance (see tagGenerations.ts, and
 * coherence/invalidator.ts). Pure.
 *
 * - an entity: `Product:7`, carried by that row's entry;
 * - a relation list: `Category:5:products`, carried by every page of it (any `first`);
 * - a root list: `Query.products`, carried by every page of it (any arguments);
 * - a type: `Product`, carried by every entity of the type and every list of it, so that an
 *   operator can drop a whole type at once.
 */
export const tags = {
  entity: (typeName: string, id: number): string => `${typeName}:${id}`,
  list: (parentType: string, parentId: number, field: string): string => `${parentType}:${parentId}:${field}`,
  rootList: (field: string): string => `Query.${field}`,
  type: (typeName: string): string => typeName,
};

/** Whether a tag names a whole type (`Product`), rather than an entity or a list. */
export function isTypeTag(tag: string): boolean {
  return !tag.includes(':') && !tag.includes('.');
}

/** What a tag names, for metrics: `entity`, `list`, `root_list` or `type` (never the tag itself, which holds an id). */
export function tagKindOf(tag: string): 'entity' | 'list' | 'root_list' | 'type' {
  if (isTypeTag(tag)) return 'type';
  if (tag.startsWith('Query.')) return 'root_list';
  return tag.split(':').length > 2 ? 'list' : 'entity';
}
