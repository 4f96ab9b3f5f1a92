import type { Cluster } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { Locks, lockKeys } from '../../src/coordination/lock.ts';
import { LockNotAcquiredError } from '../../src/errors.ts';
import { uniquePrefix } from '../support/testApp.ts';
import { useThrowawayCluster } from '../support/throwawayCluster.ts';

/**
 * On a Redis Cluster a script may only touch keys of one slot: the lock and its fencing counter
 * carry the lock's name as their hash tag, so acquire (SET NX and INCR in one script), renewal and
 * release work there, whichever node owns the name.
 */
describe('withLock on a Redis Cluster', () => {
  let client: Cluster;
  const prefix = uniquePrefix();
  useThrowawayCluster((started) => (client = started));

  it('acquires, fences, excludes and releases locks on every node', async () => {
    const locks = new Locks({ redis: client, prefix, acquireWaitMs: 0 });
    // Names spread over the slots, so over the three masters.
    for (const name of ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta']) {
      const { lock } = lockKeys(prefix, name);
      const first = await locks.withLock(name, 5000, async (lease) => {
        expect(await client.exists(lock)).toBe(1);
        await expect(locks.withLock(name, 5000, async () => {})).rejects.toBeInstanceOf(LockNotAcquiredError);
        return lease.fencingToken;
      });
      expect(await client.exists(lock)).toBe(0);
      const second = await locks.withLock(name, 5000, async (lease) => lease.fencingToken);
      expect(second).toBeGreaterThan(first);
    }
  });
});
