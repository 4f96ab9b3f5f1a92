import { describe, expect, it } from 'vitest';
import { groupBySlot } from '../../../src/cache/tiers/redisSlots.ts';

describe('groupBySlot', () => {
  it('groups keys by hash slot on a cluster, and keeps one group on a single Redis', () => {
    const sample = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(groupBySlot(sample, { isCluster: false })).toEqual([sample]);
    const groups = groupBySlot(sample, { isCluster: true });
    expect(groups.flat().sort()).toEqual(sample);
    // Keys that share a hash tag share a slot, so they stay together.
    expect(groupBySlot(['{u1}a', '{u1}b'], { isCluster: true })).toEqual([['{u1}a', '{u1}b']]);
  });
});
