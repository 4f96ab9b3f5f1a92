import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { grantLease, leaseDurationMs, leaseSize, MAX_LEASE, usePermit, type HeldLease, type LeaseLog, type LeaseReturn } from '../../../src/limits/rateLimit/permitLease.ts';
import type { WindowPolicy } from '../../../src/limits/rateLimit/slidingWindow.ts';

const POLICY: WindowPolicy = { limit: 100, windowMs: 1000 };

/** A lease as an instance holds it after a grant at `sentAt`. */
function held(id: string, grant: { before: number; granted: number; resetMs: number }, sentAt: number, policy = POLICY): HeldLease {
  return { id, granted: grant.granted, used: 0, until: sentAt + leaseDurationMs(policy), before: grant.before, resetAt: sentAt + grant.resetMs };
}

describe('lease size and duration', () => {
  it('grants an eighth of the room far from the limit, at most MAX_LEASE, at least the waiting requests, never more than the room', () => {
    expect(leaseSize(POLICY, 0, 1)).toBe(12);
    expect(leaseSize(POLICY, 60, 1)).toBe(5);
    expect(leaseSize(POLICY, 90, 1)).toBe(1);
    expect(leaseSize(POLICY, 90, 4)).toBe(4);
    expect(leaseSize(POLICY, 97, 5)).toBe(3);
    expect(leaseSize(POLICY, 100, 1)).toBe(0);
    expect(leaseSize(POLICY, 0, 0)).toBe(0);
    expect(leaseSize({ limit: 1_000_000, windowMs: 1000 }, 0, 1)).toBe(MAX_LEASE);
  });

  it('lasts a tenth of the window, at most 250 ms', () => {
    expect(leaseDurationMs({ limit: 1, windowMs: 1000 })).toBe(100);
    expect(leaseDurationMs({ limit: 1, windowMs: 60_000 })).toBe(250);
  });
});

describe('grantLease', () => {
  it('records a lease as one entry weighted by its permits, scored at the end of its use, counted a window after that', () => {
    const log: LeaseLog = new Map();
    expect(grantLease(log, 0, POLICY, { leaseId: 'a', wanted: 1, returns: [] })).toEqual({ before: 0, granted: 12, resetMs: 1100 });
    expect(log.get('a')).toEqual({ score: 100, permits: 12 });
    expect(grantLease(log, 1099, POLICY, { leaseId: 'b', wanted: 1, returns: [] })).toMatchObject({ before: 12, granted: 11, resetMs: 1 });
    // At score + window the lease has left: its permits are room again.
    expect(grantLease(log, 1100, POLICY, { leaseId: 'c', wanted: 0, returns: [] })).toEqual({ before: 11, granted: 0, resetMs: 1099 });
    expect(log.has('a')).toBe(false);
  });

  it('grants no more than the room, and nothing on a full key', () => {
    const log: LeaseLog = new Map();
    expect(grantLease(log, 0, POLICY, { leaseId: 'a', wanted: 98, returns: [] }).granted).toBe(98);
    expect(grantLease(log, 1, POLICY, { leaseId: 'b', wanted: 5, returns: [] })).toMatchObject({ before: 98, granted: 2 });
    expect(grantLease(log, 2, POLICY, { leaseId: 'c', wanted: 1, returns: [] })).toMatchObject({ before: 100, granted: 0, resetMs: 1098 });
    expect(log.has('c')).toBe(false);
  });

  it('takes unused permits back: the lease keeps what it used, a fully unused one leaves; a second return or one to a lease gone changes nothing', () => {
    const log: LeaseLog = new Map();
    grantLease(log, 0, POLICY, { leaseId: 'a', wanted: 1, returns: [] });
    grantLease(log, 0, POLICY, { leaseId: 'b', wanted: 1, returns: [] });
    const returns: LeaseReturn[] = [
      { leaseId: 'a', used: 3 },
      { leaseId: 'b', used: 0 },
      { leaseId: 'gone', used: 0 },
    ];
    expect(grantLease(log, 10, POLICY, { leaseId: 'c', wanted: 0, returns })).toMatchObject({ before: 3, granted: 0 });
    expect([...log]).toEqual([['a', { score: 100, permits: 3 }]]);
    expect(grantLease(log, 20, POLICY, { leaseId: 'd', wanted: 0, returns })).toMatchObject({ before: 3 });
  });
});

describe('usePermit', () => {
  it('takes permits until the lease is used up or has ended, counting remaining down from the grant', () => {
    const lease = held('a', { before: 40, granted: 2, resetMs: 900 }, 0);
    expect(usePermit(lease, 10, POLICY)).toEqual({ allowed: true, remaining: 59, resetMs: 890 });
    expect(usePermit(lease, 20, POLICY)).toEqual({ allowed: true, remaining: 58, resetMs: 880 });
    expect(usePermit(lease, 30, POLICY)).toBeUndefined();
    expect(usePermit(held('b', { before: 0, granted: 5, resetMs: 1100 }, 0), leaseDurationMs(POLICY), POLICY)).toBeUndefined();
  });
});

/** One step of a schedule: after `gap` ms, something happens to instance `instance`. */
interface Step {
  gap: number;
  instance: number;
  /** How long after the instance sends a call the script runs. */
  delay: number;
  action: 'request' | 'return' | 'die';
}

/**
 * Instances that share one log, as RedisWindowCounter and the script do: a request takes a permit
 * of its instance's lease, or asks for a new lease (giving the old one's unused permits back); an
 * instance may give back early, or die holding its lease. Returns the times requests were admitted.
 */
function simulate(policy: WindowPolicy, instances: number, steps: readonly Step[]): { admitted: number[]; maxCounted: number } {
  const log: LeaseLog = new Map();
  const leases: (HeldLease | undefined)[] = Array.from({ length: instances }, () => undefined);
  const admitted: number[] = [];
  let now = 0;
  let redisNow = 0;
  let maxCounted = 0;
  let sequence = 0;
  const call = (instance: number, wanted: number) => {
    const old = leases[instance];
    leases[instance] = undefined;
    const returns = old && old.used < old.granted ? [{ leaseId: old.id, used: old.used }] : [];
    const leaseId = String(sequence++);
    const grant = grantLease(log, redisNow, policy, { leaseId, wanted, returns });
    maxCounted = Math.max(
      maxCounted,
      [...log.values()].reduce((sum, entry) => sum + entry.permits, 0),
    );
    return { leaseId, grant };
  };
  for (const step of steps) {
    now += step.gap;
    // The script runs after the call left, on a clock that does not go back.
    redisNow = Math.max(redisNow, now + step.delay);
    const lease = leases[step.instance];
    if (step.action === 'die') leases[step.instance] = undefined;
    else if (step.action === 'return') call(step.instance, 0);
    else if (lease && usePermit(lease, now, policy)) admitted.push(now);
    else {
      const { leaseId, grant } = call(step.instance, 1);
      const fresh = held(leaseId, grant, now, policy);
      // The asking request was decided by the script, at Redis's time.
      if (usePermit(fresh, now, policy)) admitted.push(redisNow);
      if (grant.granted > 0) leases[step.instance] = fresh;
    }
  }
  return { admitted: admitted.sort((a, b) => a - b), maxCounted };
}

describe('the invariant, over random multi-instance schedules', () => {
  it('never admits more than the limit in any window, and never counts more than the limit', () => {
    const step = fc.record({
      // Dense enough that windows fill up, and lease ends fall inside busy windows.
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 8 })),
      instance: fc.integer({ min: 0, max: 3 }),
      delay: fc.integer({ min: 0, max: 10 }),
      action: fc.constantFrom<Step['action']>(...Array.from({ length: 12 }, (): Step['action'] => 'request'), 'return', 'die'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 20, max: 300 }), fc.array(step, { minLength: 100, maxLength: 1000 }), (limit, windowMs, steps) => {
        const policy = { limit, windowMs };
        const { admitted, maxCounted } = simulate(policy, 4, steps);
        expect(maxCounted).toBeLessThanOrEqual(limit);
        for (let i = limit; i < admitted.length; i++) expect(admitted[i]! - admitted[i - limit]!).toBeGreaterThanOrEqual(windowMs);
      }),
      { seed: 42, numRuns: 300 },
    );
  });

  it('admits the whole limit when the instances give their unused permits back', () => {
    // Four instances take leases in turn, then one asks for everything left after the others gave back.
    const policy = { limit: 40, windowMs: 10_000 };
    const steps: Step[] = [0, 1, 2, 3].map((instance) => ({ gap: 1, instance, delay: 0, action: 'request' }));
    steps.push(...[1, 2, 3].map((instance): Step => ({ gap: 1, instance, delay: 0, action: 'return' })));
    steps.push(...Array.from({ length: 60 }, (): Step => ({ gap: 1, instance: 0, delay: 0, action: 'request' })));
    expect(simulate(policy, 4, steps).admitted).toHaveLength(policy.limit);
  });
});
