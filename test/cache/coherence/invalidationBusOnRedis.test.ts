import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisClient, waitUntilReady } from '../../../src/cache/tiers/redisClient.ts';
import { redisUrl } from '../../support/services.ts';
import { COMMAND_TIMEOUT_MS, connectTo, redisInstance, uniqueChannel, waitFor, wireMessage, type RedisInstance } from './busFixtures.ts';

/**
 * Two instances on the shared Redis, each on a channel of its own test: what they hear, and what
 * makes them clear L2. Faults (a Redis that hangs or dies) are in invalidationBusFaults.test.ts.
 */
const HEARING_WITHIN_MS = 3000;

let channel: string;
let a: RedisInstance;
let b: RedisInstance;
/** A connection that is not a bus: it writes crafted messages, or listens. */
let raw: Redis;
const rawConnection = () => createRedisClient({ url: redisUrl, commandTimeoutMs: COMMAND_TIMEOUT_MS });

beforeEach(async () => {
  channel = uniqueChannel();
  a = await redisInstance(connectTo(redisUrl), { channel, instanceId: 'a' });
  b = await redisInstance(connectTo(redisUrl), { channel, instanceId: 'b' });
  raw = rawConnection();
  await waitUntilReady(raw, 5000);
  expect(await Promise.all([a.bus.waitUntilHearing(HEARING_WITHIN_MS), b.bus.waitUntilHearing(HEARING_WITHIN_MS)])).toEqual([true, true]);
});
afterEach(async () => {
  await Promise.all([a?.close(), b?.close()]);
  raw?.disconnect();
});

describe('InvalidationBus on Redis', () => {
  it('each instance hears the other’s invalidations, not its own, and nothing is cleared', async () => {
    expect(await a.bus.publish(['Product:1'], ['7'])).toBe(true);
    expect(await b.bus.publish(['Category:2', 'Product:3'])).toBe(true);
    expect(await waitFor(() => a.owner.of('invalidation').length > 0 && b.owner.of('invalidation').length > 0, 2000)).toBe(true);
    expect(b.owner.of('invalidation')).toEqual([expect.objectContaining({ tags: ['Product:1'], generations: ['7'] })]);
    expect(a.owner.of('invalidation')).toEqual([expect.objectContaining({ tags: ['Category:2', 'Product:3'], generations: undefined })]);
    expect(a.owner.kindsSince(0)).toEqual(['hearing', 'invalidation']);
    expect(b.owner.kindsSince(0)).toEqual(['hearing', 'invalidation']);
  });

  it('a number skipped in another origin’s invalidations makes every instance clear L2, and keep hearing', async () => {
    await raw.publish(channel, wireMessage({ origin: 'fake', seq: 1, tags: ['Product:1'] }));
    await raw.publish(channel, wireMessage({ origin: 'fake', seq: 3, tags: ['Product:2'] }));
    for (const { owner, bus } of [a, b]) {
      expect(await waitFor(() => owner.of('invalidation').length === 2, 2000)).toBe(true);
      expect(owner.kindsSince(1)).toEqual(['invalidation', 'deaf', 'hearing', 'invalidation']);
      expect(owner.of('deaf')[0]?.reason).toBe('1 invalidation(s) from fake not heard');
      expect(bus.hearing).toBe(true);
    }
  });

  it('an unreadable message makes every instance clear L2', async () => {
    await raw.publish(channel, '{"tags": "Product:1"}');
    for (const { owner } of [a, b]) {
      expect(await waitFor(() => owner.clears() === 1, 2000)).toBe(true);
      expect(owner.of('deaf')[0]?.reason).toBe('unreadable message');
    }
  });

  it('close() stops the heartbeats and the callbacks', async () => {
    const heardFromA: string[] = [];
    const listener = rawConnection();
    listener.on('message', (_channel: string, message: string) => {
      if ((JSON.parse(message) as { origin: string }).origin === 'a') heardFromA.push(message);
    });
    await waitUntilReady(listener, 5000);
    await listener.subscribe(channel);
    expect(await waitFor(() => heardFromA.length > 0, 2000)).toBe(true);

    await a.close();
    const after = heardFromA.length;
    const eventsAfter = a.owner.events.length;
    await b.bus.publish(['Product:1']);
    await raw.publish(channel, wireMessage({ origin: 'fake', seq: 5, tags: ['Product:2'] }));
    // Absence needs a wait: three heartbeat periods, bounded, ended early by any message from a.
    expect(await waitFor(() => heardFromA.length > after, 1500)).toBe(false);
    expect(a.owner.events.length).toBe(eventsAfter);
    expect(a.bus.hearing).toBe(false);
    expect(await a.bus.publish(['Product:1'])).toBe(false);
    listener.disconnect();
  });
});
