import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import type { Cluster, Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { InvalidationBus, type InvalidationBusOptions } from '../../../src/cache/coherence/invalidationBus.ts';
import { createRedisClient, waitUntilReady } from '../../../src/cache/tiers/redisClient.ts';

/** REDIS_COMMAND_TIMEOUT_MS's default: the bound on publish. */
export const COMMAND_TIMEOUT_MS = 250;

/** What a bus told its owner, in order, with when (performance.now()). */
export type BusEvent = { kind: 'invalidation'; at: number; tags: readonly string[]; generations: readonly string[] | undefined } | { kind: 'deaf'; at: number; reason: string } | { kind: 'hearing'; at: number };

/** The owner's side of a bus: it records every callback, as L2 would act on them. */
export class BusOwner {
  readonly events: BusEvent[] = [];
  readonly logs: Array<{ level: number; msg: string; reason?: string }> = [];
  readonly logger: Logger;

  constructor() {
    this.logger = pino(
      { level: 'debug' },
      new Writable({
        write: (chunk, _encoding, done) => {
          for (const line of String(chunk).split('\n').filter(Boolean)) this.logs.push(JSON.parse(line));
          done();
        },
      }),
    );
  }

  callbacks(): Pick<InvalidationBusOptions, 'onInvalidation' | 'onDeaf' | 'onHearing' | 'logger'> {
    return {
      onInvalidation: (tags, generations) => this.events.push({ kind: 'invalidation', at: performance.now(), tags, generations }),
      onDeaf: (reason) => this.events.push({ kind: 'deaf', at: performance.now(), reason }),
      onHearing: () => this.events.push({ kind: 'hearing', at: performance.now() }),
      logger: this.logger,
    };
  }

  /** The events of one kind, as `{ kind }` unions narrow. */
  of<K extends BusEvent['kind']>(kind: K): Array<Extract<BusEvent, { kind: K }>> {
    return this.events.filter((event): event is Extract<BusEvent, { kind: K }> => event.kind === kind);
  }

  /** How many times the owner was told to clear L2 (each deaf/hearing transition clears it). */
  clears(): number {
    return this.of('deaf').length;
  }

  /** Every event since index `from`, as kinds: for order checks. */
  kindsSince(from: number): string[] {
    return this.events.slice(from).map((event) => event.kind);
  }
}

export interface BusUnderTest {
  bus: InvalidationBus;
  owner: BusOwner;
}

/** A bus with its owner recorder; the options default to the production ones. */
export function busWith(options: Omit<InvalidationBusOptions, 'onInvalidation' | 'onDeaf' | 'onHearing' | 'logger'>): BusUnderTest {
  const owner = new BusOwner();
  return { bus: new InvalidationBus({ ...options, ...owner.callbacks() }), owner };
}

/** One instance of the app, as far as the bus goes: its own subscriber, and a publisher. */
export interface RedisInstance extends BusUnderTest {
  subscriber: Redis | Cluster;
  publisher: Redis | Cluster;
  /** Closes the bus (and its subscriber), then the publisher. */
  close(): Promise<void>;
}

/** How an instance makes its two connections (the subscriber is the bus's own). */
export interface Connections {
  subscriber(): Redis | Cluster | Promise<Redis | Cluster>;
  publisher(): Redis | Cluster;
}

/** Connections to one Redis, made as the app makes them (createRedisClient). */
export function connectTo(url: string): Connections {
  const connect = () => createRedisClient({ url, commandTimeoutMs: COMMAND_TIMEOUT_MS });
  return { subscriber: connect, publisher: connect };
}

/** An instance on real Redis: its publisher is ready when this resolves, the bus not necessarily hearing. */
export async function redisInstance(connections: Connections, options: { channel: string; instanceId: string } & Pick<InvalidationBusOptions, 'heartbeatMs' | 'deadlineMs'>): Promise<RedisInstance> {
  const subscriber = await connections.subscriber();
  const publisher = connections.publisher();
  publisher.on('error', () => {});
  await waitUntilReady(publisher, 5000);
  const under = busWith({ subscriber, publisher, commandTimeoutMs: COMMAND_TIMEOUT_MS, ...options });
  return {
    ...under,
    subscriber,
    publisher,
    close: async () => {
      await under.bus.close();
      publisher.disconnect();
    },
  };
}

/** An invalidation one instance tried to send, and when it started trying. */
export interface Attempt {
  tag: string;
  at: number;
  sent: boolean;
}

/** Sends `Probe:<n>` every `everyMs` until stopped; resolves to every attempt. */
export function sendProbes(bus: InvalidationBus, everyMs: number): { stop(): Promise<Attempt[]> } {
  const attempts: Array<Promise<Attempt>> = [];
  let n = 0;
  const timer = setInterval(() => {
    const tag = `Probe:${++n}`;
    const at = performance.now();
    attempts.push(bus.publish([tag]).then((sent) => ({ tag, at, sent })));
  }, everyMs);
  return {
    stop: async () => {
      clearInterval(timer);
      return Promise.all(attempts);
    },
  };
}

/**
 * The coherence property: every invalidation another instance tried to send reaches this instance,
 * or this instance's L2 was not in use then or is cleared after (a deaf or hearing transition at or
 * after the attempt, or deaf at the end). Waits up to `ms` for messages in flight and for the
 * sender's next heartbeat, then returns the tags for which none holds: lost silently.
 */
export async function silentlyLost(attempts: readonly Attempt[], receiver: BusUnderTest, ms = 2000): Promise<string[]> {
  const { owner, bus } = receiver;
  const lost = () => {
    const received = new Set(owner.of('invalidation').flatMap((event) => event.tags));
    const clears = owner.events.filter((event) => event.kind !== 'invalidation').map((event) => event.at);
    return attempts
      .filter((attempt) => !received.has(attempt.tag))
      .filter((attempt) => bus.hearing && !clears.some((at) => at >= attempt.at))
      .map((attempt) => attempt.tag);
  };
  await waitFor(() => lost().length === 0, ms);
  return lost();
}

/** For the record: how many attempts did not arrive, and what the owner was told after `since`. */
export function lossReport(attempts: readonly Attempt[], owner: BusOwner, since: number): string {
  const received = new Set(owner.of('invalidation').flatMap((event) => event.tags));
  const missing = attempts.filter((attempt) => !received.has(attempt.tag));
  const told = owner.events
    .filter((event) => event.kind !== 'invalidation' && event.at >= since)
    .map((event) => `${event.kind}${event.kind === 'deaf' ? ` (${event.reason})` : ''} at +${Math.round(event.at - since)} ms`);
  return `${missing.length} of ${attempts.length} invalidations not received (${missing.filter((attempt) => attempt.sent).length} of them published); told: ${told.join('; ') || 'nothing'}`;
}

export function uniqueChannel(): string {
  return `test:bus:${randomUUID()}`;
}

/** Polls `condition` every 10 ms until it holds or `ms` pass; returns whether it held. Never a bare sleep. */
export async function waitFor(condition: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** A message as the bus writes it, for a fake origin. */
export function wireMessage(fields: { origin: string; boot?: string; seq: number; tags?: string[]; generations?: string[] }): string {
  return JSON.stringify({ origin: fields.origin, boot: fields.boot ?? 'b00t', seq: fields.seq, sentAt: Date.now(), tags: fields.tags ?? [], ...(fields.generations ? { generations: fields.generations } : {}) });
}

/**
 * An in-memory Redis pub/sub for unit tests: delivery in a microtask, in order, to every connection
 * subscribed. `hang()` makes it take publishes and never answer nor deliver (SIGSTOP); `dropNext(n)`
 * loses the next n deliveries to one connection (a subscription that moved).
 */
export class FakePubSub {
  private readonly connections = new Set<FakeConnection>();
  private hung = false;

  connect(): FakeConnection {
    const connection = new FakeConnection(this);
    this.connections.add(connection);
    return connection;
  }

  hang(): void {
    this.hung = true;
  }

  resume(): void {
    this.hung = false;
  }

  publish(channel: string, message: string): Promise<number> {
    if (this.hung) return new Promise(() => {});
    const receivers = [...this.connections].filter((c) => c.status === 'ready' && c.channels.has(channel));
    return Promise.resolve().then(() => {
      for (const receiver of receivers) receiver.deliver(channel, message);
      return receivers.length;
    });
  }
}

export class FakeConnection extends EventEmitter {
  status = 'ready';
  readonly isCluster = false;
  readonly channels = new Set<string>();
  private dropping = 0;
  private failing = 0;

  constructor(private readonly server: FakePubSub) {
    super();
  }

  async subscribe(channel: string): Promise<number> {
    this.channels.add(channel);
    return this.channels.size;
  }

  publish(channel: string, message: string): Promise<number> {
    if (this.failing > 0) {
      this.failing -= 1;
      return Promise.reject(new Error('Connection is closed.'));
    }
    return this.server.publish(channel, message);
  }

  /** The next `count` publishes on this connection are refused, as ioredis refuses them while disconnected. */
  failNextPublish(count = 1): void {
    this.failing += count;
  }

  dropNext(count: number): void {
    this.dropping += count;
  }

  deliver(channel: string, message: string): void {
    if (this.dropping > 0) this.dropping -= 1;
    else this.emit('message', channel, message);
  }

  /** The socket closed: what ioredis emits. */
  close(): void {
    this.status = 'reconnecting';
    this.emit('close');
  }

  /** Back, and subscribed again: what ioredis does with autoResubscribe. */
  reconnect(): void {
    this.status = 'ready';
    this.emit('ready');
  }

  disconnect(): void {
    this.status = 'end';
    this.channels.clear();
  }

  /** As the bus's options take it. */
  get asRedis(): Redis | Cluster {
    return this as unknown as Redis;
  }
}
