import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { InvalidationBus } from '../../../src/cache/coherence/invalidationBus.ts';
import { BusOwner, busWith, FakePubSub, wireMessage, type BusUnderTest, type FakeConnection } from './busFixtures.ts';

/**
 * The bus's rules, on an in-memory pub/sub and a fake clock: when it hears, when it is deaf, which
 * messages make the owner clear L2. Real Redis, hung and killed, is in invalidationBusFaults.test.ts.
 */
const CHANNEL = 'invalidations';
const HEARTBEAT_MS = 500;
const DEADLINE_MS = 2000;
const COMMAND_TIMEOUT_MS = 250;

interface Instance extends BusUnderTest {
  subscriber: FakeConnection;
  publisher: FakeConnection;
}

function instance(pubsub: FakePubSub, instanceId: string): Instance {
  const subscriber = pubsub.connect();
  const publisher = pubsub.connect();
  const under = busWith({ subscriber: subscriber.asRedis, publisher: publisher.asRedis, channel: CHANNEL, instanceId, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  return { ...under, subscriber, publisher };
}

/** Another instance that is not a bus: it writes raw messages on the channel. */
function rawOrigin(pubsub: FakePubSub, origin: string) {
  const connection = pubsub.connect();
  return (seq: number, fields: { tags?: string[]; generations?: string[]; boot?: string } = {}) => connection.publish(CHANNEL, wireMessage({ origin, seq, ...fields }));
}

let pubsub: FakePubSub;
const buses: InvalidationBus[] = [];

beforeEach(() => {
  vi.useFakeTimers();
  pubsub = new FakePubSub();
});
afterEach(async () => {
  for (const bus of buses.splice(0)) await bus.close();
  vi.useRealTimers();
});

function start(instanceId = 'me'): Instance {
  const started = instance(pubsub, instanceId);
  buses.push(started.bus);
  return started;
}

/** A bus past its first heartbeat: hearing, and told so. */
async function hearing(instanceId = 'me'): Promise<Instance> {
  const started = start(instanceId);
  await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
  expect(started.bus.hearing).toBe(true);
  return started;
}

describe('InvalidationBus: hearing', () => {
  it('starts deaf, and hears once a heartbeat sent a heartbeat after subscribing has come back', async () => {
    const { bus, owner } = start();
    const heard = bus.waitUntilHearing(5000);
    expect(bus.hearing).toBe(false);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS - 1);
    expect(bus.hearing).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(bus.hearing).toBe(true);
    expect(await heard).toBe(true);
    expect(owner.kindsSince(0)).toEqual(['hearing']);
  });

  it('stays deaf while its own heartbeats do not come back', async () => {
    pubsub.hang();
    const { bus, owner } = start();
    const heard = bus.waitUntilHearing(3000);
    await vi.advanceTimersByTimeAsync(3000);
    expect(await heard).toBe(false);
    expect(bus.hearing).toBe(false);
    expect(owner.events).toEqual([]);
  });

  it('goes deaf exactly deadlineMs after its last own message, and hears at the first one that comes back', async () => {
    const { bus, owner } = await hearing();
    // The heartbeat at 500 ms was the last one heard.
    pubsub.hang();
    await vi.advanceTimersByTimeAsync(DEADLINE_MS - 1);
    expect(bus.hearing).toBe(true);
    // The check runs after the I/O phase (setImmediate), which fake timers place a tick later.
    await vi.advanceTimersByTimeAsync(2);
    expect(bus.hearing).toBe(false);
    expect(owner.of('deaf')).toEqual([expect.objectContaining({ reason: `no own message heard for ${DEADLINE_MS + 1} ms` })]);

    pubsub.resume();
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(bus.hearing).toBe(true);
    expect(owner.kindsSince(0)).toEqual(['hearing', 'deaf', 'hearing']);
  });

  it('is deaf as soon as the subscriber connection closes, and hears again after it is back', async () => {
    const { bus, owner, subscriber } = await hearing();
    subscriber.close();
    expect(bus.hearing).toBe(false);
    expect(owner.of('deaf')).toEqual([expect.objectContaining({ reason: 'subscriber connection closed' })]);
    subscriber.reconnect();
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(bus.hearing).toBe(true);
    expect(owner.kindsSince(0)).toEqual(['hearing', 'deaf', 'hearing']);
  });
});

describe('InvalidationBus: delivery', () => {
  it('delivers another instance’s invalidations with their generations, never its own', async () => {
    const a = await hearing('a');
    const b = await hearing('b');
    expect(await a.bus.publish(['Product:1'], ['g7'])).toBe(true);
    expect(await b.bus.publish(['Category:2'])).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(a.owner.of('invalidation')).toEqual([expect.objectContaining({ tags: ['Category:2'], generations: undefined })]);
    expect(b.owner.of('invalidation')).toEqual([expect.objectContaining({ tags: ['Product:1'], generations: ['g7'] })]);
    // Heartbeats are messages too, but carry nothing to deliver.
    await vi.advanceTimersByTimeAsync(5 * HEARTBEAT_MS);
    expect(a.owner.of('invalidation')).toHaveLength(1);
    expect(a.owner.clears() + b.owner.clears()).toBe(0);
  });

  it('leaves out generations that do not match the tags, and still delivers the tags', async () => {
    const { owner } = await hearing();
    await rawOrigin(pubsub, 'other')(1, { tags: ['A', 'B'], generations: ['g1'] });
    expect(owner.of('invalidation')).toEqual([expect.objectContaining({ tags: ['A', 'B'], generations: undefined })]);
  });
});

describe('InvalidationBus: lost messages', () => {
  it('a number skipped in another origin’s invalidations clears L2 at once: onDeaf then onHearing, then the message', async () => {
    const { bus, owner } = await hearing();
    const other = rawOrigin(pubsub, 'other');
    await other(1, { tags: ['A'] });
    const before = owner.events.length;
    await other(4, { tags: ['B'] });
    expect(owner.kindsSince(before)).toEqual(['deaf', 'hearing', 'invalidation']);
    expect(owner.of('deaf')[0]?.reason).toBe('2 invalidation(s) from other not heard');
    expect(bus.hearing).toBe(true);
  });

  it('a heartbeat carries the last number used: one beyond what was heard is a lost invalidation', async () => {
    const { owner } = await hearing();
    const other = rawOrigin(pubsub, 'other');
    await other(0);
    await other(1, { tags: ['A'] });
    await other(1);
    expect(owner.clears()).toBe(0);
    await other(2);
    expect(owner.of('deaf').map((event) => event.reason)).toEqual(['1 invalidation(s) from other not heard']);
  });

  it('a new origin is no loss; one first heard of after it used numbers is', async () => {
    const { owner } = await hearing();
    await rawOrigin(pubsub, 'new')(0);
    await rawOrigin(pubsub, 'new-writer')(1, { tags: ['A'] });
    expect(owner.clears()).toBe(0);
    await rawOrigin(pubsub, 'known-elsewhere')(9, { tags: ['B'] });
    expect(owner.of('deaf').map((event) => event.reason)).toEqual(['8 invalidation(s) from known-elsewhere not heard']);
  });

  it('an origin that restarts under the same instance id is a new origin (a new boot id)', async () => {
    const { owner } = await hearing();
    const other = rawOrigin(pubsub, 'other');
    for (let seq = 1; seq <= 5; seq++) await other(seq, { boot: 'first', tags: [`T${seq}`] });
    await other(0, { boot: 'second' });
    await other(1, { boot: 'second', tags: ['A'] });
    expect(owner.clears()).toBe(0);
    expect(owner.of('invalidation').map((event) => event.tags)).toEqual([['T1'], ['T2'], ['T3'], ['T4'], ['T5'], ['A']]);
  });

  it('a message that arrives after a later one (reordered, repeated) is applied and not counted twice', async () => {
    const { owner } = await hearing();
    const other = rawOrigin(pubsub, 'other');
    await other(1, { tags: ['A'] });
    await other(3, { tags: ['C'] });
    await other(2, { tags: ['B'] });
    await other(3, { tags: ['C'] });
    await other(4, { tags: ['D'] });
    expect(owner.clears()).toBe(1);
    expect(owner.of('invalidation').map((event) => event.tags)).toEqual([['A'], ['C'], ['B'], ['C'], ['D']]);
  });

  it('an invalidation lost by this subscription shows at the origin’s next heartbeat', async () => {
    const a = await hearing('a');
    const b = await hearing('b');
    a.subscriber.dropNext(1);
    await b.bus.publish(['Product:1']);
    expect(a.owner.of('invalidation')).toEqual([]);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(a.owner.of('deaf').map((event) => event.reason)).toEqual(['1 invalidation(s) from b not heard']);
    expect(a.bus.hearing).toBe(true);
  });

  it('an invalidation whose publish failed keeps its number: the others clear at the sender’s next heartbeat', async () => {
    const a = await hearing('a');
    const b = await hearing('b');
    a.publisher.failNextPublish();
    expect(await a.bus.publish(['Product:1'])).toBe(false);
    expect(b.owner.clears()).toBe(0);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(b.owner.of('deaf').map((event) => event.reason)).toEqual(['1 invalidation(s) from a not heard']);
    expect(a.owner.clears()).toBe(0);
  });

  it('an instance that cannot publish at all (its side of a partition) clears the others once its silence passes the deadline, and counts again when back', async () => {
    const a = await hearing('a');
    const b = await hearing('b');
    // a's invalidation is set in L3 but never published, and nothing a sends gets through for a while.
    // The invalidation and the next 7 heartbeats (3.5 s) are refused.
    a.publisher.failNextPublish(8);
    expect(await a.bus.publish(['Product:1'])).toBe(false);
    await vi.advanceTimersByTimeAsync(DEADLINE_MS + HEARTBEAT_MS);
    expect(b.owner.of('deaf').map((event) => event.reason)).toEqual(['1 instance(s) not heard for 2000 ms']);
    expect(b.bus.hearing).toBe(true);
    // a's next message shows numbers b no longer remembers: one more clear, never a missed loss.
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS);
    expect(b.owner.of('deaf').map((event) => event.reason)).toEqual(['1 instance(s) not heard for 2000 ms', '1 invalidation(s) from a not heard']);
  });

  it('a heartbeat that is lost or fails costs the others nothing', async () => {
    const a = await hearing('a');
    const b = await hearing('b');
    a.publisher.failNextPublish();
    b.subscriber.dropNext(1);
    await vi.advanceTimersByTimeAsync(4 * HEARTBEAT_MS);
    expect(await a.bus.publish(['Product:1'])).toBe(true);
    expect(b.owner.of('invalidation')).toHaveLength(1);
    expect(a.owner.clears() + b.owner.clears()).toBe(0);
  });

  it('while deaf, a loss is only noted (L2 is paused, and cleared when hearing comes back); invalidations still reach the owner', async () => {
    const { bus, owner } = start();
    const other = rawOrigin(pubsub, 'other');
    await other(1, { tags: ['A'] });
    await other(5, { tags: ['E'] });
    expect(bus.hearing).toBe(false);
    expect(owner.kindsSince(0)).toEqual(['invalidation', 'invalidation']);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await other(6, { tags: ['F'] });
    expect(owner.kindsSince(2)).toEqual(['hearing', 'invalidation']);
  });

  it.each([
    ['not JSON', 'Product:1'],
    ['JSON, not an object', '42'],
    ['tags that are not strings', JSON.stringify({ origin: 'o', boot: 'b', seq: 1, sentAt: 1, tags: [1] })],
    ['no number (the previous format)', JSON.stringify({ origin: 'o', tags: ['Product:1'] })],
    ['an invalidation numbered 0', JSON.stringify({ origin: 'o', boot: 'b', seq: 0, sentAt: 1, tags: ['A'] })],
    ['a number that is not an integer', JSON.stringify({ origin: 'o', boot: 'b', seq: 1.5, sentAt: 1, tags: [] })],
    ['no send time', JSON.stringify({ origin: 'o', boot: 'b', seq: 1, tags: [] })],
  ])('an unreadable message (%s) clears L2', async (_case, text) => {
    const { bus, owner } = await hearing();
    await pubsub.connect().publish(CHANNEL, text);
    expect(owner.kindsSince(1)).toEqual(['deaf', 'hearing']);
    expect(owner.of('deaf')[0]?.reason).toBe('unreadable message');
    expect(bus.hearing).toBe(true);
  });

  it('ignores other channels on the same connection', async () => {
    const { owner, subscriber } = await hearing();
    subscriber.emit('message', 'elsewhere', 'not JSON');
    expect(owner.events).toHaveLength(1);
  });
});

describe('InvalidationBus: publish', () => {
  it('resolves false after commandTimeoutMs when Redis does not answer, and never throws', async () => {
    const { bus, owner } = await hearing();
    pubsub.hang();
    let result: boolean | undefined;
    void bus.publish(['Product:1']).then((sent) => (result = sent));
    await vi.advanceTimersByTimeAsync(COMMAND_TIMEOUT_MS - 1);
    expect(result).toBeUndefined();
    // withTimeout checks after the I/O phase (setImmediate), which fake timers place a tick later.
    await vi.advanceTimersByTimeAsync(2);
    expect(result).toBe(false);
    expect(owner.logs.filter((line) => line.msg.startsWith('invalidation not published'))).toHaveLength(1);
  });

  it('resolves false when the client refuses the command', async () => {
    const { bus, publisher } = await hearing();
    publisher.failNextPublish();
    await expect(bus.publish(['Product:1'])).resolves.toBe(false);
  });

  it('sends nothing for no tags', async () => {
    const { bus, owner } = await hearing();
    const b = await hearing('b');
    expect(await bus.publish([])).toBe(true);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(b.owner.of('invalidation')).toEqual([]);
    expect(owner.clears() + b.owner.clears()).toBe(0);
  });
});

describe('InvalidationBus: close', () => {
  it('stops its timers, resolves waiters, refuses to publish, and never calls back after', async () => {
    pubsub.hang();
    const { bus, owner, subscriber } = start();
    const waiting = bus.waitUntilHearing(10_000);
    await bus.close();
    expect(await waiting).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    expect(subscriber.status).toBe('end');
    pubsub.resume();
    subscriber.emit('message', CHANNEL, wireMessage({ origin: 'other', seq: 7, tags: ['A'] }));
    subscriber.emit('close');
    await vi.advanceTimersByTimeAsync(10 * DEADLINE_MS);
    expect(owner.events).toEqual([]);
    expect(await bus.publish(['A'])).toBe(false);
  });

  it('a hearing bus closes without telling the owner anything', async () => {
    const { bus, owner } = await hearing();
    await bus.close();
    expect(bus.hearing).toBe(false);
    await vi.advanceTimersByTimeAsync(10 * DEADLINE_MS);
    expect(owner.kindsSince(0)).toEqual(['hearing']);
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('InvalidationBus: options and owners', () => {
  it.each([
    [{ heartbeatMs: 0 }, 'heartbeatMs must be a positive number of ms, got 0'],
    [{ deadlineMs: Number.NaN }, 'deadlineMs must be a positive number of ms, got NaN'],
    [{ commandTimeoutMs: -1 }, 'commandTimeoutMs must be a positive number of ms, got -1'],
    [{ deadlineMs: 400 }, 'deadlineMs (400) must be greater than heartbeatMs (500)'],
  ])('rejects %o, naming the option', (timing, message) => {
    const connection = pubsub.connect().asRedis;
    expect(() => busWith({ subscriber: connection, publisher: connection, channel: CHANNEL, instanceId: 'me', commandTimeoutMs: 250, ...timing })).toThrow(new TypeError(`InvalidationBus: ${message}`));
  });

  it('an owner callback that throws is logged, and the bus goes on', async () => {
    const owner = new BusOwner();
    const connection = pubsub.connect().asRedis;
    const bus = new InvalidationBus({
      ...owner.callbacks(),
      subscriber: pubsub.connect().asRedis,
      publisher: connection,
      channel: CHANNEL,
      instanceId: 'me',
      commandTimeoutMs: 250,
      onInvalidation: () => {
        throw new Error('owner bug');
      },
    });
    buses.push(bus);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await rawOrigin(pubsub, 'other')(1, { tags: ['A'] });
    await rawOrigin(pubsub, 'other')(2, { tags: ['B'] });
    expect(owner.logs.filter((line) => line.msg === 'invalidation bus callback failed')).toHaveLength(2);
    expect(bus.hearing).toBe(true);
  });
});
