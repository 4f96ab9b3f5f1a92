/**
 * A seeded source of choices (mulberry32), so that a randomised test prints its seed and replays
 * the same choices from it. Each concurrent worker takes its own source ({@link SeededRandom.fork}):
 * its choices then do not depend on how the workers interleave.
 */
export interface SeededRandom {
  /** Uniform in [0, 1). */
  next(): number;
  /** An integer in [0, max). */
  below(max: number): number;
  /** A number in [min, max). */
  between(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(values: readonly T[]): T;
  shuffled<T>(values: readonly T[]): T[];
  /** A source of its own, seeded from this one's seed and `stream`. */
  fork(stream: number): SeededRandom;
}

export function seededRandom(seed: number): SeededRandom {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const below = (max: number) => Math.floor(next() * max);
  return {
    next,
    below,
    between: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick<T>(values: readonly T[]): T {
      if (values.length === 0) throw new RangeError('seededRandom: pick from an empty list');
      return values[below(values.length)] as T;
    },
    shuffled<T>(values: readonly T[]): T[] {
      const copy = [...values];
      for (let i = copy.length - 1; i > 0; i--) {
        const j = below(i + 1);
        [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
      }
      return copy;
    },
    fork: (stream) => seededRandom(Math.imul(seed ^ 0x9e3779b9, 31) + stream * 0x85ebca6b),
  };
}
