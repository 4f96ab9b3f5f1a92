import { describe, expect, it } from 'vitest';
import { parseEntries } from '../../src/views/streamEntries.ts';

describe('parseEntries', () => {
  it('reads product and event ids, whatever the field order, and lists each product once', () => {
    const batch = parseEntries([
      ['1-0', ['p', '7', 'e', 'a']],
      ['1-1', ['e', 'b', 'p', '7']],
      ['1-2', ['p', '8', 'e', 'c']],
    ]);
    expect(batch.events).toEqual([
      { eventId: 'a', productId: 7 },
      { eventId: 'b', productId: 7 },
      { eventId: 'c', productId: 8 },
    ]);
    expect(batch.productIds).toEqual([7, 8]);
    expect(batch.ackArgs).toEqual(['1-0', '7', '1-1', '7', '1-2', '8']);
  });

  it('acks malformed or deleted entries, or ids no row can have, without a product: dropped, not retried', () => {
    const batch = parseEntries([
      ['2-0', null],
      ['2-1', ['p', 'x', 'e', 'a']],
      ['2-2', ['p', '3']],
      ['2-3', ['p', '1.5', 'e', 'b']],
      ['2-4', ['p', '4', 'e', 'c']],
      ['2-5', ['p', '2147483648', 'e', 'd']],
      ['2-6', ['p', '0', 'e', 'f']],
    ]);
    expect(batch.events).toEqual([{ eventId: 'c', productId: 4 }]);
    expect(batch.productIds).toEqual([4]);
    expect(batch.ackArgs).toEqual(['2-0', '', '2-1', '', '2-2', '', '2-3', '', '2-4', '4', '2-5', '', '2-6', '']);
  });

  it('makes nothing of an empty batch', () => {
    expect(parseEntries([])).toEqual({ events: [], productIds: [], ackArgs: [] });
  });
});
