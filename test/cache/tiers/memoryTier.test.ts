import { describe, expect, it } from 'vitest';
import { MemoryTier } from '../../../src/cache/tiers/memoryTier.ts';
import { categoryKind, tierContract, write } from './tierContract.ts';

tierContract('MemoryTier (L2)', async () => ({ tier: new MemoryTier({ maxBytes: 1024 * 1024 }), key: (k) => k }));

describe('MemoryTier is bounded by bytes', () => {
  it('never holds more than maxBytes, evicting the least recently used first', async () => {
    const tier = new MemoryTier({ maxBytes: 4096 });
    for (let id = 1; id <= 200; id++) {
      await tier.setMany([write(`k${id}`, { id, name: 'x'.repeat(50), slug: `s${id}` })]);
      expect(tier.sizeBytes).toBeLessThanOrEqual(4096);
    }
    const [oldest, newest] = await tier.getMany(['k1', 'k200'], categoryKind);
    expect(oldest).toBeUndefined();
    expect(newest?.value?.id).toBe(200);
  });

  it('counts an entry by its encoded size, so large values take more room', async () => {
    const tier = new MemoryTier({ maxBytes: 1024 * 1024 });
    await tier.setMany([write('small', { id: 1, name: 'a', slug: 'a' })]);
    const small = tier.sizeBytes;
    await tier.setMany([write('large', { id: 2, name: 'b'.repeat(10_000), slug: 'b' })]);
    expect(tier.sizeBytes - small).toBeGreaterThan(10_000);
  });
});
