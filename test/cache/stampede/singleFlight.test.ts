import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../../src/cache/stampede/singleFlight.ts';

/** A promise the test settles when it chooses. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A `start` that records each call and holds its batch open until the test releases it. */
function recordingStart() {
  const calls: string[][] = [];
  const batches: Array<ReturnType<typeof deferred<void>>> = [];
  const start = async (keys: string[]) => {
    calls.push(keys);
    const gate = deferred<void>();
    batches.push(gate);
    await gate.promise;
    return keys.map((key) => `value of ${key}`);
  };
  return { calls, batches, start };
}

/** Keys with no tags, for the tests that are not about invalidation. */
const k = (keys: string[]) => keys.map((key) => ({ key, tags: [] }));

describe('SingleFlight', () => {
  it('starts a batch of new keys with one call', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const result = flights.run(k(['a', 'b', 'c']), start);
    expect(calls).toEqual([['a', 'b', 'c']]);
    for (const key of ['a', 'b', 'c']) expect(flights.has(key)).toBe(true);
    batches[0]!.resolve();
    expect(await result).toEqual(['value of a', 'value of b', 'value of c']);
  });

  it('concurrent runs of overlapping keys share one start per key', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const first = flights.run(k(['a', 'b']), start);
    const second = flights.run(k(['b', 'c']), start);
    const third = flights.run(k(['a', 'c']), start);
    // b joins the first flight, c starts its own, the third run joins both.
    expect(calls).toEqual([['a', 'b'], ['c']]);
    batches.forEach((batch) => batch.resolve());
    expect(await first).toEqual(['value of a', 'value of b']);
    expect(await second).toEqual(['value of b', 'value of c']);
    expect(await third).toEqual(['value of a', 'value of c']);
    expect(calls).toHaveLength(2);
  });

  it('starts a key once even when one call names it several times', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const result = flights.run(k(['a', 'a', 'b', 'a']), start);
    expect(calls).toEqual([['a', 'b']]);
    batches[0]!.resolve();
    expect(await result).toEqual(['value of a', 'value of a', 'value of b', 'value of a']);
  });

  it('lands: once a flight is done, the next run of its key starts a new one', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const first = flights.run(k(['a']), start);
    batches[0]!.resolve();
    await first;
    expect(flights.has('a')).toBe(false);
    const second = flights.run(k(['a']), start);
    expect(calls).toEqual([['a'], ['a']]);
    batches[1]!.resolve();
    await second;
  });

  it('passes a failure to every joiner, and does not remember it', async () => {
    const flights = new SingleFlight<string>();
    const failing = deferred<string[]>();
    let starts = 0;
    const start = () => {
      starts += 1;
      return failing.promise;
    };
    const first = flights.run(k(['a', 'b']), start);
    const joiner = flights.run(k(['b']), start);
    const error = new Error('database down');
    failing.reject(error);
    await expect(first).rejects.toBe(error);
    await expect(joiner).rejects.toBe(error);
    expect(starts).toBe(1);
    expect(flights.has('a')).toBe(false);
    expect(flights.has('b')).toBe(false);
    // The next run tries again, and succeeds.
    expect(await flights.run(k(['a', 'b']), async (keys) => keys.map((k) => `retried ${k}`))).toEqual(['retried a', 'retried b']);
  });

  it('abandon: a flight carrying an invalidated tag is not joined; the next run starts its own, and the first run still lands', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const before = flights.run([{ key: 'Product#7', tags: ['Product:7', 'Product'] }], start);
    flights.abandon(['Product:7']);
    expect(flights.has('Product#7')).toBe(false);
    const after = flights.run([{ key: 'Product#7', tags: ['Product:7', 'Product'] }], start);
    expect(calls).toEqual([['Product#7'], ['Product#7']]);
    batches.forEach((batch) => batch.resolve());
    expect(await before).toEqual(['value of Product#7']);
    expect(await after).toEqual(['value of Product#7']);
  });

  it('abandon leaves flights of other tags joinable, and a landed abandoned flight never removes its successor', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const first = flights.run(
      [
        { key: 'a', tags: ['A'] },
        { key: 'b', tags: ['B'] },
      ],
      start,
    );
    flights.abandon(['A']);
    const second = flights.run(
      [
        { key: 'a', tags: ['A'] },
        { key: 'b', tags: ['B'] },
      ],
      start,
    );
    expect(calls).toEqual([['a', 'b'], ['a']]);
    // The abandoned flight lands first: the new flight of `a` must still be the one to join.
    batches[0]!.resolve();
    await first;
    expect(flights.has('a')).toBe(true);
    const joined = flights.run([{ key: 'a', tags: ['A'] }], start);
    expect(calls).toHaveLength(2);
    batches[1]!.resolve();
    expect(await second).toEqual(['value of a', 'value of b']);
    expect(await joined).toEqual(['value of a']);
  });

  it('abandonAll: nothing running may be joined', async () => {
    const flights = new SingleFlight<string>();
    const { calls, batches, start } = recordingStart();
    const first = flights.run(k(['a', 'b']), start);
    flights.abandonAll();
    const second = flights.run(k(['a']), start);
    expect(calls).toEqual([['a', 'b'], ['a']]);
    batches.forEach((batch) => batch.resolve());
    await Promise.all([first, second]);
  });
});
