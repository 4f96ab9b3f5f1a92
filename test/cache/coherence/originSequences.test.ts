import { describe, expect, it } from 'vitest';
import { OriginSequences } from '../../../src/cache/coherence/originSequences.ts';

const invalidation = (seq: number, origin = 'a', boot = 'b1') => ({ origin, boot, seq, tags: ['T'] });
const heartbeat = (seq: number, origin = 'a', boot = 'b1') => ({ origin, boot, seq, tags: [] });

describe('OriginSequences', () => {
  it('a new origin numbered from the start is no loss', () => {
    const origins = new OriginSequences();
    expect(origins.heard(invalidation(1))).toBe(0);
    expect(origins.heard(heartbeat(0, 'other'))).toBe(0);
  });

  it('counts the invalidations skipped between two it heard', () => {
    const origins = new OriginSequences();
    origins.heard(invalidation(1));
    expect(origins.heard(invalidation(2))).toBe(0);
    expect(origins.heard(invalidation(5))).toBe(2);
  });

  it('a heartbeat carries the last number used: one beyond what was heard is a lost invalidation', () => {
    const origins = new OriginSequences();
    origins.heard(invalidation(1));
    expect(origins.heard(heartbeat(1))).toBe(0);
    expect(origins.heard(heartbeat(2))).toBe(1);
    expect(origins.heard(heartbeat(2))).toBe(0);
  });

  it('an origin first heard of after it used numbers counts them as lost', () => {
    expect(new OriginSequences().heard(invalidation(9))).toBe(8);
    expect(new OriginSequences().heard(heartbeat(3))).toBe(3);
  });

  it('a message that arrives after a later one is not counted twice, nor lowers what was heard', () => {
    const origins = new OriginSequences();
    origins.heard(invalidation(1));
    expect(origins.heard(invalidation(3))).toBe(1);
    expect(origins.heard(invalidation(2))).toBe(0);
    expect(origins.heard(invalidation(3))).toBe(0);
    expect(origins.heard(invalidation(4))).toBe(0);
  });

  it('numbers each origin, and each boot of an instance id, on its own', () => {
    const origins = new OriginSequences();
    origins.heard(invalidation(5, 'a', 'b1'));
    expect(origins.heard(invalidation(1, 'a', 'b2'))).toBe(0);
    expect(origins.heard(invalidation(1, 'c', 'b1'))).toBe(0);
    expect(origins.heard(invalidation(6, 'a', 'b1'))).toBe(0);
  });

  it('a forgotten origin counts as new: its numbers already used are lost', () => {
    const origins = new OriginSequences({ max: 1 });
    origins.heard(invalidation(3, 'a'));
    origins.heard(invalidation(1, 'c'));
    expect(origins.heard(invalidation(4, 'a'))).toBe(3);
  });
});
