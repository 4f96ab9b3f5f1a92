import { describe, expect, it } from 'vitest';
import { HeardGenerations } from '../../../src/cache/coherence/heardGenerations.ts';

describe('HeardGenerations', () => {
  it('refuses a tag with no generation (its key missing or unread): it may have been evicted', () => {
    expect(new HeardGenerations().admits(new Map([['Product:1', null]]))).toBe(false);
    expect(new HeardGenerations().admits(new Map([['Product:1', undefined]]))).toBe(false);
  });

  it('admits a generation created by a read (~): no invalidation made it, so there is nothing to hear', () => {
    expect(new HeardGenerations().admits(new Map([['Product:1', '~c1']]))).toBe(true);
  });

  it('admits a generation this instance heard (the caller’s L2 fence covers one heard while it ran)', () => {
    const heard = new HeardGenerations();
    heard.heard(['Product:1'], ['g1']);
    expect(heard.admits(new Map([['Product:1', 'g1']]))).toBe(true);
  });

  it('refuses a generation it never heard of, however long ago it was set', () => {
    expect(new HeardGenerations().admits(new Map([['Product:1', 'g2']]))).toBe(false);
  });

  it('a newer generation than the one heard is refused, and admitted once its message arrives', () => {
    const heard = new HeardGenerations();
    heard.heard(['Product:1'], ['g1']);
    expect(heard.admits(new Map([['Product:1', 'g2']]))).toBe(false);
    heard.heard(['Product:1'], ['g2']);
    expect(heard.admits(new Map([['Product:1', 'g2']]))).toBe(true);
  });

  it('one unheard or missing tag refuses the whole response', () => {
    const heard = new HeardGenerations();
    heard.heard(['A', 'B'], ['a1', 'b1']);
    expect(
      heard.admits(
        new Map([
          ['A', 'a1'],
          ['B', 'b1'],
          ['C', '~c'],
        ]),
      ),
    ).toBe(true);
    expect(
      heard.admits(
        new Map([
          ['A', 'a1'],
          ['B', 'b2'],
          ['C', '~c'],
        ]),
      ),
    ).toBe(false);
    expect(
      heard.admits(
        new Map([
          ['A', 'a1'],
          ['B', 'b1'],
          ['C', null],
        ]),
      ),
    ).toBe(false);
  });

  it('forgets the least recently used tags beyond its bound, conservatively', () => {
    const heard = new HeardGenerations({ max: 2 });
    heard.heard(['A', 'B', 'C'], ['a', 'b', 'c']);
    expect(heard.admits(new Map([['A', 'a']]))).toBe(false);
    expect(heard.admits(new Map([['C', 'c']]))).toBe(true);
  });
});
