import { describe, expect, it } from 'vitest';
import { readMessage } from '../../../src/cache/coherence/busMessage.ts';

const wire = (fields: Record<string, unknown>) => JSON.stringify({ origin: 'a', boot: 'b1', seq: 1, sentAt: 1000, tags: ['T'], ...fields });

describe('readMessage', () => {
  it('reads an invalidation with its generations, and a heartbeat (no tags, the last number used)', () => {
    expect(readMessage(wire({ generations: ['g1'] }))).toEqual({ kind: 'message', origin: 'a', boot: 'b1', seq: 1, sentAt: 1000, tags: ['T'], generations: ['g1'] });
    expect(readMessage(wire({ seq: 0, tags: [] }))).toEqual({ kind: 'message', origin: 'a', boot: 'b1', seq: 0, sentAt: 1000, tags: [] });
  });

  it('leaves out generations that do not match the tags, and still reads the invalidation', () => {
    expect(readMessage(wire({ tags: ['A', 'B'], generations: ['g1'] }))).not.toHaveProperty('generations');
    expect(readMessage(wire({ generations: [7] }))).toMatchObject({ kind: 'message', tags: ['T'] });
    expect(readMessage(wire({ generations: [7] }))).not.toHaveProperty('generations');
  });

  it('is unreadable when not JSON, or null', () => {
    expect(readMessage('not JSON')).toEqual({ kind: 'unreadable' });
    expect(readMessage('null')).toEqual({ kind: 'unreadable' });
  });

  it('is unreadable without an origin, a boot, a send time or string tags (a previous version’s message)', () => {
    for (const missing of ['origin', 'boot', 'sentAt', 'tags']) expect(readMessage(wire({ [missing]: undefined }))).toEqual({ kind: 'unreadable' });
    expect(readMessage(wire({ tags: [1] }))).toEqual({ kind: 'unreadable' });
  });

  it('is unreadable with a number that is not one: unnumbered, fractional, or an invalidation numbered 0', () => {
    for (const seq of [undefined, 1.5, -1, '1']) expect(readMessage(wire({ seq }))).toEqual({ kind: 'unreadable' });
    expect(readMessage(wire({ seq: 0 }))).toEqual({ kind: 'unreadable' });
    expect(readMessage(wire({ seq: -1, tags: [] }))).toEqual({ kind: 'unreadable' });
  });
});
