import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { boundedDocumentStore } from '../../src/limits/documentStore.ts';

describe('the document store', () => {
  it('counts the source text every parsed document keeps, so padded queries cannot grow the heap past its bound', async () => {
    const store = boundedDocumentStore(1024 * 1024);
    // 60 KB of comment: no tokens, nothing in the AST's JSON, all of it kept alive by `loc`.
    const padded = (n: number) => parse(`{ product(id: "${n}") { id } } # ${'x'.repeat(60 * 1024)}`);
    for (let n = 0; n < 100; n++) await store.set(`doc${n}`, padded(n));
    let kept = 0;
    for (let n = 0; n < 100; n++) if ((await store.get(`doc${n}`)) !== undefined) kept += 1;
    // 1 MiB holds at most eight 120 KB documents (two bytes a character); Apollo's own sizing would keep all 100.
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(8);
    expect(await store.get('doc99')).toBeDefined();
  });
});
