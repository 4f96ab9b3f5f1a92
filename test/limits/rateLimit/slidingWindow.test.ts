import { describe, expect, it } from 'vitest';
import { LocalWindowCounter } from '../../../src/limits/rateLimit/localWindowCounter.ts';
import { admit, type WindowPolicy } from '../../../src/limits/rateLimit/slidingWindow.ts';

const POLICY: WindowPolicy = { limit: 3, windowMs: 1000 };

/** The concept list's pattern, pure: a counter per fixed window (`INCR rate:<id>:<now // window>`). */
function fixedWindow(policy: WindowPolicy) {
  const counters = new Map<number, number>();
  return (now: number): boolean => {
    const bucket = Math.floor(now / policy.windowMs);
    const count = (counters.get(bucket) ?? 0) + 1;
    counters.set(bucket, count);
    return count <= policy.limit;
  };
}

describe('sliding window log: admit', () => {
  it('admits exactly the limit within a window and refuses the rest, telling how many remain', () => {
    const log: number[] = [];
    const decisions = [0, 10, 20, 30, 40].map((now) => admit(log, now, POLICY));
    expect(decisions.map((d) => d.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions.map((d) => d.remaining)).toEqual([2, 1, 0, 0, 0]);
    expect(log).toEqual([0, 10, 20]);
  });

  it('frees one request exactly when the oldest leaves the window, and says when that is', () => {
    const log: number[] = [];
    for (const now of [0, 100, 200]) admit(log, now, POLICY);
    expect(admit(log, 999, POLICY)).toEqual({ allowed: false, remaining: 0, resetMs: 1 });
    // A request made at t counts while now - t < windowMs: at 1000 the one of 0 has left.
    expect(admit(log, 1000, POLICY)).toEqual({ allowed: true, remaining: 0, resetMs: 100 });
    expect(admit(log, 1001, POLICY)).toMatchObject({ allowed: false, resetMs: 99 });
  });

  it('does not remember refused requests: knocking does not push recovery back', () => {
    const log: number[] = [];
    for (const now of [0, 1, 2]) admit(log, now, POLICY);
    for (let now = 3; now < 1000; now += 7) expect(admit(log, now, POLICY).allowed).toBe(false);
    expect(log).toHaveLength(POLICY.limit);
    expect(admit(log, 1000, POLICY).allowed).toBe(true);
  });

  it('an empty log resets at once', () => {
    expect(admit([], 5, { limit: 1, windowMs: 1000 })).toEqual({ allowed: true, remaining: 0, resetMs: 1000 });
  });

  it('a burst of twice the limit around a fixed-window boundary: the fixed window admits all of it, the sliding window the limit', () => {
    const policy: WindowPolicy = { limit: 100, windowMs: 60_000 };
    // 100 requests in the last second of a minute, 100 in the first second of the next.
    const times = [...Array.from({ length: 100 }, (_, i) => 59_000 + i * 10), ...Array.from({ length: 100 }, (_, i) => 60_000 + i * 10)];
    const fixed = fixedWindow(policy);
    const log: number[] = [];
    expect(times.filter((now) => fixed(now))).toHaveLength(200);
    expect(times.filter((now) => admit(log, now, policy).allowed)).toHaveLength(100);
  });

  it('never admits more than the limit in any window, over a random schedule', () => {
    const policy: WindowPolicy = { limit: 5, windowMs: 100 };
    const log: number[] = [];
    const admitted: number[] = [];
    let now = 0;
    let seed = 42;
    for (let i = 0; i < 5000; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      now += seed % 40;
      if (admit(log, now, policy).allowed) admitted.push(now);
    }
    for (let i = policy.limit; i < admitted.length; i++) expect((admitted[i] as number) - (admitted[i - policy.limit] as number)).toBeGreaterThanOrEqual(policy.windowMs);
  });
});

describe('LocalWindowCounter', () => {
  it('keeps one log per key on its injected clock', async () => {
    let now = 0;
    const counter = new LocalWindowCounter({ now: () => now });
    const policy: WindowPolicy = { limit: 2, windowMs: 1000 };
    expect((await counter.count('a', policy)).allowed).toBe(true);
    expect((await counter.count('a', policy)).allowed).toBe(true);
    expect((await counter.count('a', policy)).allowed).toBe(false);
    expect((await counter.count('b', policy)).allowed).toBe(true);
    now = 1000;
    expect((await counter.count('a', policy)).allowed).toBe(true);
  });

  it('forgets the least recently seen key beyond maxKeys', async () => {
    const counter = new LocalWindowCounter({ maxKeys: 2, now: () => 0 });
    const policy: WindowPolicy = { limit: 1, windowMs: 1000 };
    await counter.count('a', policy);
    await counter.count('b', policy);
    await counter.count('c', policy);
    expect((await counter.count('a', policy)).allowed).toBe(true);
  });
});
