import { describe, expect, it } from 'vitest';
import { HeardGenerations } from '../../../src/cache/coherence/heardGenerations.ts';

describe('HeardGenerations', () => {
  const clock = () => {
    let now = 1_000_000;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  it('admits tags never invalidated within their lifetime (no generation)', () => {
    const heard = new HeardGenerations({ now: () => 0 });
    expect(heard.admits(new Map([['Product:1', null]]), 0)).toBe(true);
  });

  it('admits a generation this instance heard, whenever it was heard (the L2 fence covers the rest)', () => {
    const c = clock();
    const heard = new HeardGenerations({ now: c.now });
    heard.heard(['Product:1'], ['g1']);
    expect(heard.admits(new Map([['Product:1', 'g1']]), c.now())).toBe(true);
  });

  it('refuses a generation it never heard of, until it has settled for a whole request', () => {
    const c = clock();
    const heard = new HeardGenerations({ now: c.now, settleMs: 2000 });
    const current = new Map([['Product:1', 'g2']]);
    expect(heard.admits(current, c.now())).toBe(false);
    // A request that started before the generation settled is refused, even when it ends later.
    const startedEarly = c.now() + 1000;
    c.advance(5000);
    expect(heard.admits(current, startedEarly)).toBe(false);
    expect(heard.admits(current, c.now())).toBe(true);
  });

  it('a newer generation than the one heard is refused, and heard once its message arrives', () => {
    const c = clock();
    const heard = new HeardGenerations({ now: c.now });
    heard.heard(['Product:1'], ['g1']);
    expect(heard.admits(new Map([['Product:1', 'g2']]), c.now())).toBe(false);
    heard.heard(['Product:1'], ['g2']);
    expect(heard.admits(new Map([['Product:1', 'g2']]), c.now())).toBe(true);
  });

  it('one refused tag refuses the response, and every unknown tag is remembered', () => {
    const c = clock();
    const heard = new HeardGenerations({ now: c.now, settleMs: 10 });
    heard.heard(['A'], ['a1']);
    const current = new Map([
      ['A', 'a1'],
      ['B', 'b1'],
      ['C', 'c1'],
    ]);
    expect(heard.admits(current, c.now())).toBe(false);
    c.advance(20);
    expect(heard.admits(current, c.now())).toBe(true);
  });

  it('forgets the least recently used tags beyond its bound, conservatively', () => {
    const c = clock();
    const heard = new HeardGenerations({ now: c.now, max: 2 });
    heard.heard(['A', 'B', 'C'], ['a', 'b', 'c']);
    expect(heard.admits(new Map([['A', 'a']]), c.now())).toBe(false);
    expect(heard.admits(new Map([['C', 'c']]), c.now())).toBe(true);
  });
});
