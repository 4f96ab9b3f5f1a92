import { describe, expect, it } from 'vitest';
import { InvalidationLog } from '../../../src/cache/coherence/invalidationLog.ts';

describe('InvalidationLog fences', () => {
  it('refuses a fence taken before an invalidation of one of the tags', () => {
    const log = new InvalidationLog();
    const fence = log.fence();
    log.record(['Product:1', 'Product']);
    expect(log.invalidatedSince(['Product:1'], fence)).toBe(true);
    expect(log.invalidatedSince(['Product:2', 'Product'], fence)).toBe(true);
  });

  it('admits a fence taken before invalidations of other tags only', () => {
    const log = new InvalidationLog();
    const fence = log.fence();
    log.record(['Product:2']);
    log.record(['Product:2']);
    expect(log.invalidatedSince(['Product:1'], fence)).toBe(false);
  });

  it('admits a fence taken after the invalidation', () => {
    const log = new InvalidationLog();
    log.record(['Product:1']);
    expect(log.invalidatedSince(['Product:1'], log.fence())).toBe(false);
  });

  it('tells fences apart by when each tag was last invalidated', () => {
    const log = new InvalidationLog();
    const first = log.fence();
    log.record(['A']);
    const second = log.fence();
    log.record(['B']);
    expect(log.invalidatedSince(['A'], first)).toBe(true);
    expect(log.invalidatedSince(['A'], second)).toBe(false);
    expect(log.invalidatedSince(['B'], second)).toBe(true);
  });

  it('refuses no fence for an empty list of tags, nor an untagged fill', () => {
    const log = new InvalidationLog();
    const fence = log.fence();
    log.record([]);
    log.record(['A']);
    expect(log.invalidatedSince([], fence)).toBe(false);
  });
});

describe('InvalidationLog remembers a bounded number of tags', () => {
  it('refuses, conservatively, a fence taken before a tag it has since forgotten', () => {
    const log = new InvalidationLog({ rememberedTags: 2 });
    const fence = log.fence();
    // A is pushed out of the two remembered tags: the log can no longer tell it was invalidated.
    log.record(['A']);
    log.record(['B']);
    log.record(['C']);
    expect(log.invalidatedSince(['Z'], fence)).toBe(true);
  });

  it('admits a fence taken after the forgotten tags', () => {
    const log = new InvalidationLog({ rememberedTags: 2 });
    log.record(['A']);
    log.record(['B']);
    log.record(['C']);
    const fence = log.fence();
    log.record(['D']);
    expect(log.invalidatedSince(['A', 'Z'], fence)).toBe(false);
  });

  it('does not count a tag invalidated again as forgotten', () => {
    const log = new InvalidationLog({ rememberedTags: 2 });
    const fence = log.fence();
    log.record(['A']);
    log.record(['A']);
    log.record(['A']);
    expect(log.invalidatedSince(['Z'], fence)).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses rememberedTags %s, naming the option', (rememberedTags) => {
    expect(() => new InvalidationLog({ rememberedTags })).toThrow(/rememberedTags/);
  });
});

describe('InvalidationLog.forgetAll()', () => {
  it('refuses every fence taken before it, whatever its tags, and admits later ones', () => {
    const log = new InvalidationLog();
    log.record(['A']);
    const before = log.fence();
    log.forgetAll();
    expect(log.invalidatedSince(['Z'], before)).toBe(true);
    expect(log.invalidatedSince([], before)).toBe(true);
    const after = log.fence();
    expect(log.invalidatedSince(['A', 'Z'], after)).toBe(false);
    log.record(['A']);
    expect(log.invalidatedSince(['A'], after)).toBe(true);
  });
});
