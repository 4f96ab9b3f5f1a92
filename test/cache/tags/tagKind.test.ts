import { describe, expect, it } from 'vitest';
import { tagKind, tags } from '../../../src/cache/tags/tags.ts';

/** tagKind: each tag shape of tags.ts, named by what it covers (spans and metrics carry the kind, never the tag). */
describe('tagKind', () => {
  it.each([
    [tags.entity('Product', 7), 'entity'],
    [tags.list('Category', 5, 'products'), 'list'],
    [tags.rootList('products'), 'root_list'],
    [tags.type('Product'), 'type'],
  ])('%s is a %s tag', (tag, kind) => {
    expect(tagKind(tag)).toBe(kind);
  });
});
