import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { withTimeout } from '../tiers/tierGuard.ts';

export interface InvalidationBusOptions {
  /**
   * A connection of its own: once subscribed, a Redis connection can do nothing else, and close()
   * drops it. On Redis Cluster, create it with `shardedSubscribers: true` (Redis >= 7): the channel
   * then goes over sharded pub/sub, which keeps each instance's messages in order (see
   * {@link InvalidationBus}). Any other connection uses SUBSCRIBE/PUBLISH.
   */
  subscriber: Redis | Cluster;
  /** Any connection to publish on (the L3 one). */
  publisher: Redis | Cluster;
  channel: string;
  /** This process. With a random id per bus, it names the origin of every message sent. */
  instanceId: string;
  /** Bound on publish, in ms, like every other call on a request's path: REDIS_COMMAND_TIMEOUT_MS. */
  commandTimeoutMs: number;
  /**
   * How often this instance publishes a heartbeat, in ms. Detection does not wait for it (see
   * {@link deadlineMs}); it sets how many heartbeats fit in a deadline (four: one or two late or
   * timed out do not turn L2 off), how soon the others notice an invalidation of this instance that
   * was lost (at its next heartbeat), how long startup waits before L2 is used (one period), and the
   * cost: each instance receives every instance's heartbeats, 2 a second each by default.
   * @default 500
   */
  heartbeatMs?: number;
  /**
   * Hearing none of its own messages (not even a heartbeat) for this long, in ms, makes the bus
   * deaf: L2 stops being trusted at most this long after Redis, the network or the subscription
   * stopped carrying messages. Must be greater than {@link heartbeatMs}.
   * @default 2000
   */
  deadlineMs?: number;
  /** Another instance's invalidation (this bus's own are not delivered). Synchronous. */
  onInvalidation(tags: readonly string[], generations: readonly string[] | undefined): void;
  /**
   * From now on some message may be lost: the owner pauses and clears L2. Called once per
   * transition; a lost or unreadable message is a deaf moment, onDeaf then onHearing in one tick.
   */
  onDeaf(reason: string): void;
  /** Every message is being heard again: the owner clears L2 and uses it again. Called once per transition. */
  onHearing(): void;
  logger: Logger;
  /** The clock, ms since the epoch: send times and the deadline. @default Date.now */
  now?: () => number;
}

/**
 * Carries invalidations between instances over Redis pub/sub, so every instance's L2 drops what a
 * write on any instance invalidated, and tells the owner when that can no longer be proved.
 *
 * Pub/sub delivers at most once, and a hung Redis, a partition or a subscription that moved to
 * another cluster node loses messages without closing anything. So the bus trusts only what it
 * hears. It starts deaf (the owner keeps L2 paused) and hears once one of its own heartbeats, sent a
 * heartbeat period after subscribing, has come back: the round trip publisher -> Redis -> subscriber
 * works, and every live instance has had time to be heard once. Then:
 * - none of its own messages for {@link InvalidationBusOptions.deadlineMs}: deaf, until one arrives;
 * - the subscriber connection closes: deaf at once;
 * - an invalidation of another instance is lost: each instance numbers its invalidations 1, 2, 3...,
 *   an invalidation carries its number and a heartbeat the last number used. A number skipped means
 *   an invalidation never heard, and the owner clears L2 (onDeaf then onHearing): the message that
 *   showed it was sent after the lost one, so clearing now drops whatever the lost one invalidated.
 *   An invalidation whose publish failed or timed out keeps its number, so the others clear at that
 *   instance's next message, a heartbeat later at most. A lost heartbeat costs nothing (it numbers
 *   nothing); its absence is the deadline's business;
 * - an unreadable message: something was invalidated, we cannot tell what: L2 is cleared the same way.
 *
 * An origin is an instance id with a random id per bus, so a restart under the same instance id is
 * a new origin, numbered from the start: its first message is no loss. An origin first heard of
 * after it used numbers, once this bus hears, counts those as lost (it had time to be heard; or it
 * was forgotten among 10,000 origins). A message that arrives after a later one of its origin
 * (reordered) is applied, and its loss is not counted twice. What no number can show: the last
 * invalidations of an instance that stops for good before its next heartbeat.
 *
 * On Redis Cluster, sharded pub/sub keeps the channel on the master that owns its slot: every
 * SPUBLISH of an instance goes down one connection to that node, so its messages arrive in order,
 * and nothing is broadcast over the cluster bus. Classic PUBLISH goes to a random node each time, so
 * an instance's messages overtake each other, and each overtaking costs every other instance a
 * clear. Either way a hung, dead or moved subscription is noticed as above.
 */
export class InvalidationBus {
  private readonly heartbeatMs: number;
  private readonly deadlineMs: number;
  private readonly now: () => number;
  private readonly sharded: boolean;
  /** With instanceId, the origin of this bus's messages. */
  private readonly boot = randomBytes(4).toString('hex');
  /** The last number given to an invalidation of this bus. */
  private sequence = 0;
  /** The highest number heard from each other origin; a forgotten origin counts as new. */
  private readonly lastHeard = new LRUCache<string, number>({ max: 10_000 });
  private state: 'deaf' | 'hearing' = 'deaf';
  private closed = false;
  private subscribed = false;
  private subscribing = false;
  /** Own messages sent from then on prove hearing: a heartbeat period after subscribing. */
  private hearingFrom = Number.POSITIVE_INFINITY;
  private lastOwnHeardAt = 0;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private warmUpTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly hearingWaiters = new Set<() => void>();
  private readonly listeners: Array<[event: string, listener: (...args: any[]) => void]>;

  constructor(private readonly options: InvalidationBusOptions) {
    ({ heartbeatMs: this.heartbeatMs, deadlineMs: this.deadlineMs } = getValidTiming(options));
    this.now = options.now ?? Date.now;
    const { subscriber, channel, logger } = options;
    this.sharded = subscriber.isCluster && (subscriber as Cluster).options.shardedSubscribers === true;
    if (subscriber.isCluster && !this.sharded) {
      logger.warn({ channel }, 'invalidation bus on classic pub/sub on a Cluster: messages overtake each other and clear L2; create the subscriber with shardedSubscribers: true');
    }
    this.listeners = [
      [this.sharded ? 'smessage' : 'message', (from: string, message: string) => from === channel && this.receive(message)],
      // The client resubscribes by itself after a reconnection; this is for the first subscription.
      ['ready', () => void this.subscribe()],
      // Whatever is published while the connection is down is lost: no need to wait for the deadline.
      ['close', () => this.becomeDeaf('subscriber connection closed')],
      // Reconnecting is the client's; 'close' or the deadline has made the bus deaf already.
      ['error', () => {}],
    ];
    for (const [event, listener] of this.listeners) subscriber.on(event, listener);
    if (subscriber.status === 'ready') void this.subscribe();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs).unref();
  }

  /** Whether every message is being heard: the owner may use L2. */
  get hearing(): boolean {
    return this.state === 'hearing';
  }

  /** Resolves true as soon as the bus hears, false after `ms` or on close (startup does not wait long on a cache). */
  waitUntilHearing(ms: number): Promise<boolean> {
    if (this.hearing || this.closed) return Promise.resolve(this.hearing);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.hearingWaiters.delete(done);
        resolve(this.hearing);
      };
      const timer = setTimeout(done, ms);
      this.hearingWaiters.add(done);
    });
  }

  /**
   * Tells the other instances. Resolves true once Redis took the message; false if it refused or did
   * not answer within commandTimeoutMs: the others then clear their L2 at this instance's next
   * message. No tags: nothing to tell, true. Never throws.
   */
  async publish(tags: readonly string[], generations?: readonly string[]): Promise<boolean> {
    if (tags.length === 0) return true;
    if (this.closed) return false;
    // Numbered even if it is never sent: the number it leaves out is how the others learn of the loss.
    this.sequence += 1;
    const sent = await this.send({ seq: this.sequence, tags, ...(generations ? { generations } : {}) });
    if (!sent) this.options.logger.warn({ tags }, 'invalidation not published; the other instances clear L2 at the next heartbeat');
    return sent;
  }

  /** Stops the timers and drops the subscriber connection. It no longer hears, and calls nothing back. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.state = 'deaf';
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.warmUpTimer);
    clearTimeout(this.deadlineTimer);
    for (const [event, listener] of this.listeners) this.options.subscriber.off(event, listener);
    for (const wake of [...this.hearingWaiters]) wake();
    this.options.subscriber.disconnect();
  }

  // Private:

  private async subscribe(): Promise<void> {
    if (this.subscribed || this.subscribing || this.closed) return;
    const { subscriber, channel, logger } = this.options;
    this.subscribing = true;
    try {
      await (this.sharded ? subscriber.ssubscribe(channel) : subscriber.subscribe(channel));
      if (this.closed) return;
      this.subscribed = true;
      logger.info({ channel, sharded: this.sharded }, 'subscribed to invalidations; L2 in use once a heartbeat comes back');
      // Not at once: in a heartbeat period every live instance sends a message, so an origin first
      // heard of later, its numbers already used, is a loss and not an instance just met.
      this.warmUpTimer = setTimeout(() => {
        this.hearingFrom = this.now();
        this.heartbeat();
      }, this.heartbeatMs).unref();
    } catch (error) {
      // Tried again at the next heartbeat or 'ready'.
      if (!this.closed) logger.warn({ err: error, channel }, 'invalidation channel subscribe failed');
    } finally {
      this.subscribing = false;
    }
  }

  private heartbeat(): void {
    if (!this.subscribed && this.options.subscriber.status === 'ready') void this.subscribe();
    // A failure needs no log: the deadline turns it into "deaf", once.
    void this.send({ seq: this.sequence, tags: [] });
  }

  /** false if Redis did not take the message within commandTimeoutMs. */
  private async send(content: Pick<BusMessage, 'seq' | 'tags' | 'generations'>): Promise<boolean> {
    if (this.closed) return false;
    const { publisher, channel, instanceId, commandTimeoutMs } = this.options;
    const message: BusMessage = { origin: instanceId, boot: this.boot, sentAt: this.now(), ...content };
    const text = JSON.stringify(message);
    try {
      // Not the client's own timeout: a mutation must not wait for a hung Redis, and event-loop lag must not count.
      await withTimeout(this.sharded ? publisher.spublish(channel, text) : publisher.publish(channel, text), commandTimeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  private receive(text: string): void {
    if (this.closed) return;
    const message = readMessage(text);
    if (message.kind === 'unreadable') {
      // Something was invalidated, we cannot tell what: drop everything rather than serve it stale.
      this.options.logger.warn({ message: text.slice(0, 200) }, 'unreadable invalidation message');
      this.lost('unreadable message');
      return;
    }
    if (message.origin === this.options.instanceId && message.boot === this.boot) {
      this.heardOwn(message);
      return;
    }
    const { origin, boot, seq, tags, generations } = message;
    const key = `${boot} ${origin}`;
    const last = this.lastHeard.get(key) ?? 0;
    this.lastHeard.set(key, Math.max(last, seq));
    // An invalidation carries its own number, a heartbeat the last one used.
    const missing = seq - (tags.length > 0 ? 1 : 0) - last;
    // Before delivering: the clear covers what was lost, the delivery what arrived.
    if (missing > 0) this.lost(`${missing} invalidation(s) from ${origin} not heard`);
    if (tags.length > 0) this.tell(() => this.options.onInvalidation(tags, generations));
  }

  /** One of this bus's own messages came back: the round trip works. */
  private heardOwn(message: BusMessage): void {
    this.lastOwnHeardAt = this.now();
    if (this.hearing) this.armDeadline();
    else if (message.sentAt >= this.hearingFrom) this.becomeHearing();
  }

  /** A message is lost: a deaf moment, so the owner clears L2. Nothing to do while deaf (L2 is paused). */
  private lost(reason: string): void {
    if (!this.hearing) return;
    this.becomeDeaf(reason);
    this.becomeHearing();
  }

  private becomeDeaf(reason: string): void {
    if (!this.hearing || this.closed) return;
    this.state = 'deaf';
    clearTimeout(this.deadlineTimer);
    this.options.logger.warn({ channel: this.options.channel, reason }, 'invalidation bus deaf; L2 paused and cleared until every message is heard again');
    this.tell(() => this.options.onDeaf(reason));
  }

  private becomeHearing(): void {
    if (this.hearing || this.closed) return;
    this.state = 'hearing';
    this.armDeadline();
    this.options.logger.info({ channel: this.options.channel }, 'invalidation bus hearing; L2 cleared and in use');
    this.tell(() => this.options.onHearing());
    for (const wake of [...this.hearingWaiters]) wake();
  }

  /**
   * Deaf once deadlineMs pass without an own message. The check runs after the event loop's I/O phase
   * (as in withTimeout): a heartbeat already waiting on the socket counts, so a busy event loop is not
   * taken for a silent Redis.
   */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const remaining = Math.max(0, this.lastOwnHeardAt + this.deadlineMs - this.now());
    this.deadlineTimer = setTimeout(() => {
      setImmediate(() => {
        if (!this.hearing || this.closed) return;
        const silentMs = this.now() - this.lastOwnHeardAt;
        if (silentMs >= this.deadlineMs) this.becomeDeaf(`no own message heard for ${silentMs} ms`);
        else this.armDeadline();
      });
    }, remaining).unref();
  }

  /** An owner's callback that throws must not break the subscriber's message handling. */
  private tell(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.options.logger.error({ err: error }, 'invalidation bus callback failed');
    }
  }
}

/**
 * What travels on the channel, as JSON; a heartbeat is a message without tags. `origin`, `tags` and
 * `generations` keep their names from the previous version, which reads an invalidation as before
 * and a heartbeat as an empty one during a rolling deploy (its messages, unnumbered, read here as
 * unreadable: L2 is cleared).
 */
interface BusMessage {
  origin: string;
  /** Random per bus: with `origin`, whose numbers `seq` counts. */
  boot: string;
  /** An invalidation's number (1, 2, 3...), or for a heartbeat the last number used (0 before any). */
  seq: number;
  /** When it was sent, ms since the epoch: the propagation delay is the receiver's now minus this. */
  sentAt: number;
  tags: readonly string[];
  /** The L3 generation each tag got, when known. */
  generations?: readonly string[];
}

type ReadMessage = ({ kind: 'message' } & BusMessage) | { kind: 'unreadable' };

function readMessage(text: string): ReadMessage {
  let parsed: Partial<Record<keyof BusMessage, unknown>>;
  try {
    parsed = JSON.parse(text) ?? {};
  } catch {
    return { kind: 'unreadable' };
  }
  const { origin, boot, seq, sentAt, tags, generations } = parsed;
  if (typeof origin !== 'string' || typeof boot !== 'string' || typeof sentAt !== 'number' || !isStringArray(tags)) return { kind: 'unreadable' };
  // An invalidation is numbered from 1; a heartbeat before any invalidation says 0.
  if (!Number.isSafeInteger(seq) || (seq as number) < (tags.length > 0 ? 1 : 0)) return { kind: 'unreadable' };
  // Generations that do not match the tags are left out: the invalidation itself is readable.
  const matching = isStringArray(generations) && generations.length === tags.length ? generations : undefined;
  return { kind: 'message', origin, boot, seq: seq as number, sentAt, tags, ...(matching ? { generations: matching } : {}) };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function getValidTiming(options: InvalidationBusOptions): { heartbeatMs: number; deadlineMs: number } {
  const { heartbeatMs = 500, deadlineMs = 2000, commandTimeoutMs } = options;
  for (const [name, value] of Object.entries({ heartbeatMs, deadlineMs, commandTimeoutMs })) {
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`InvalidationBus: ${name} must be a positive number of ms, got ${String(value)}`);
  }
  if (deadlineMs <= heartbeatMs) throw new TypeError(`InvalidationBus: deadlineMs (${deadlineMs}) must be greater than heartbeatMs (${heartbeatMs})`);
  return { heartbeatMs, deadlineMs };
}
