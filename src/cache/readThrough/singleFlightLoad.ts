import type { SingleFlight } from '../stampede/singleFlight.ts';
import type { ReadItem } from './readItem.ts';

/**
 * Answers `items` through the process's single flight: an item whose key is being loaded joins that
 * load; the others are loaded together, with one call of `start`, which must answer every item it
 * is given.
 */
export async function loadInFlight<R, V>(flights: SingleFlight<unknown>, items: readonly ReadItem<R, V>[], start: (items: ReadItem<R, V>[]) => Promise<void>): Promise<void> {
  const byKey = new Map(items.map((item) => [item.key, item]));
  const values = await flights.run(items, async (keys) => {
    const starting = keys.map((key) => byKey.get(key) as ReadItem<R, V>);
    await start(starting);
    return starting.map((item) => item.answer?.value ?? null);
  });
  items.forEach((item, i) => (item.answer = { value: (values[i] ?? null) as V | null }));
}
