import type { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { closeRedisClient, createRedisClient, waitUntilReady } from '../../src/cache/tiers/redisClient.ts';
import { withTimeout } from '../../src/cache/tiers/tierGuard.ts';
import { FaultProxy } from './faultProxy.ts';
import { freePort } from './ports.ts';
import { ThrowawayRedis } from './throwawayRedis.ts';

/** Far above anything the proxy needs on an idle machine: waits end on events, this only bounds them. */
const DEADLINE_MS = 15_000;
/** Long enough to call a command unanswered: a hung one is never answered, so load cannot flip it. */
const SILENCE_MS = 300;

describe('FaultProxy, seen from an app-configured ioredis client', () => {
  let server: ThrowawayRedis;
  let proxy: FaultProxy;
  let client: Redis;
  let seen: ClientEvents;
  const extraClients: Redis[] = [];

  beforeAll(async () => {
    server = await ThrowawayRedis.start();
  });
  afterAll(async () => {
    await server.stop();
  });

  beforeEach(async () => {
    proxy = await FaultProxy.start({ targetPort: server.port });
    ({ client, seen } = connect(proxy));
    expect(await waitUntilReady(client, DEADLINE_MS)).toBe(true);
  });
  afterEach(async () => {
    for (const redis of [client, ...extraClients.splice(0)]) await closeRedisClient(redis);
    await proxy.close();
  });

  function connectAnother(): { client: Redis; seen: ClientEvents } {
    const another = connect(proxy);
    extraClients.push(another.client);
    return another;
  }

  it('pass: commands go through', async () => {
    await client.set('pass', 'yes');
    expect(await client.get('pass')).toBe('yes');
    expect(proxy.connections).toBe(1);
  });

  it('delay: replies arrive, in order, no earlier than the delay both ways', async () => {
    await client.del('delayed');
    proxy.set({ kind: 'delay', ms: 200 });
    const started = performance.now();
    const replies = await Promise.all([client.incr('delayed'), client.incr('delayed'), client.get('delayed')]);
    // A lower bound only: the proxy cannot deliver early, however busy the machine.
    expect(performance.now() - started).toBeGreaterThanOrEqual(2 * 200);
    expect(replies).toEqual([1, 2, '2']);
    expect(seen.names).not.toContain('close');
  });

  it('delay then pass: what is still delayed is not overtaken', async () => {
    await client.del('order');
    proxy.set({ kind: 'delay', ms: 300 });
    // Redis's final value tells the order it ran them in (ioredis pairs replies by position, so the
    // replies themselves cannot). Explicit pipelines, because the client's auto-pipelining would not
    // send the second command before the first is answered.
    const first = client.pipeline().append('order', 'a').exec();
    // Unanswered after one short wait, in which the proxy has read it: it is queued there, delayed.
    await expect(withTimeout(first, 50)).rejects.toThrow();
    proxy.set({ kind: 'pass' });
    const second = client.pipeline().append('order', 'b').exec();
    await Promise.all([first, second]);
    expect(await client.get('order')).toBe('ab');
  });

  it('hang: a command gets no answer, and the client does not notice the connection is hung', async () => {
    proxy.set({ kind: 'hang' });
    const reply = client.get('hang');
    await expect(withTimeout(reply, SILENCE_MS)).rejects.toThrow();
    expect(client.status).toBe('ready');
    expect(seen.names).not.toContain('close');
    proxy.set({ kind: 'pass' });
    await reply.catch(() => undefined);
  });

  it('hang: a new connection is accepted but its handshake is never answered', async () => {
    proxy.set({ kind: 'hang' });
    const late = connectAnother();
    await late.seen.next('connect', DEADLINE_MS);
    expect(await waitUntilReady(late.client, SILENCE_MS)).toBe(false);
    proxy.set({ kind: 'pass' });
    expect(await waitUntilReady(late.client, DEADLINE_MS)).toBe(true);
  });

  it('hang then pass: what was held is delivered, once, and the same connection works again', async () => {
    await client.del('held');
    proxy.set({ kind: 'hang' });
    const held = client.incr('held');
    await expect(withTimeout(held, SILENCE_MS)).rejects.toThrow();
    proxy.set({ kind: 'pass' });
    // Answered now, unless ioredis's own timeout (5 s) gave up first on a stalled machine.
    await held.catch(() => undefined);
    expect(await client.get('held')).toBe('1');
    expect(seen.names).not.toContain('close');
  });

  it('hang, reset, pass: the held command fails and never runs; the client reconnects', async () => {
    await client.del('lost');
    proxy.set({ kind: 'hang' });
    const held = client.incr('lost');
    await expect(withTimeout(held, SILENCE_MS)).rejects.toThrow();
    const closed = seen.next('close', DEADLINE_MS);
    proxy.set({ kind: 'reset' });
    await closed;
    await expect(held).rejects.toThrow();
    proxy.set({ kind: 'pass' });
    expect(await waitUntilReady(client, DEADLINE_MS)).toBe(true);
    expect(await client.get('lost')).toBeNull();
  });

  it('drop: the client sees the connection close, without a reset, and commands fail until pass', async () => {
    const closed = seen.next('close', DEADLINE_MS);
    proxy.set({ kind: 'drop' });
    await closed;
    expect(seen.errors.filter((error) => error.code === 'ECONNRESET')).toEqual([]);
    await expect(client.get('drop')).rejects.toThrow();

    // New connections are ended at accept: connected, then closed, never ready.
    const refused = connectAnother();
    await refused.seen.next('close', DEADLINE_MS);
    expect(refused.seen.names).not.toContain('ready');

    proxy.set({ kind: 'pass' });
    expect(await waitUntilReady(client, DEADLINE_MS)).toBe(true);
    await client.set('drop', 'back');
    expect(await client.get('drop')).toBe('back');
  });

  it('reset: the client sees ECONNRESET and the connection close, and commands fail until pass', async () => {
    const closed = seen.next('close', DEADLINE_MS);
    proxy.set({ kind: 'reset' });
    await closed;
    expect(seen.errors.map((error) => error.code)).toContain('ECONNRESET');
    await expect(client.get('reset')).rejects.toThrow();

    const refused = connectAnother();
    await refused.seen.next('close', DEADLINE_MS);
    expect(refused.seen.errors.map((error) => error.code)).toContain('ECONNRESET');

    proxy.set({ kind: 'pass' });
    expect(await waitUntilReady(client, DEADLINE_MS)).toBe(true);
    await client.set('reset', 'back');
    expect(await client.get('reset')).toBe('back');
  });

  it('close: resolves with connections hung, and the client sees its connection close', async () => {
    proxy.set({ kind: 'hang' });
    const closed = seen.next('close', DEADLINE_MS);
    await proxy.close();
    await closed;
    expect(proxy.connections).toBe(0);
  });

  it('refuses a delay that is not a duration', () => {
    expect(() => proxy.set({ kind: 'delay', ms: -1 })).toThrow(/delay's ms/);
    expect(proxy.current).toEqual({ kind: 'pass' });
  });
});

describe('FaultProxy in front of nothing', () => {
  it('resets its clients instead of crashing the test', async () => {
    const proxy = await FaultProxy.start({ targetPort: await freePort() });
    const { client, seen } = connect(proxy);
    try {
      await seen.next('close', DEADLINE_MS);
      expect(seen.names).not.toContain('ready');
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });
});

interface ClientEvents {
  readonly names: string[];
  readonly errors: NodeJS.ErrnoException[];
  /** Resolves at the next `name` from now; rejects after `ms`. */
  next(name: string, ms: number): Promise<void>;
}

/** A client as the app makes one, through the proxy, with the events it emits recorded in order. */
function connect(proxy: FaultProxy): { client: Redis; seen: ClientEvents } {
  const client = createRedisClient({ url: proxy.url, commandTimeoutMs: 200 });
  const names: string[] = [];
  const errors: NodeJS.ErrnoException[] = [];
  for (const name of ['connect', 'ready', 'close', 'reconnecting', 'end']) client.on(name, () => names.push(name));
  client.on('error', (error: NodeJS.ErrnoException) => {
    names.push('error');
    errors.push(error);
  });
  const next = (name: string, ms: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${name}' within ${ms} ms; seen: ${names.join(', ')}`)), ms);
      client.once(name, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  return { client, seen: { names, errors, next } };
}
