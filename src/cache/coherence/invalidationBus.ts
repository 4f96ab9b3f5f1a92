import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { withTimeout } from '../tiers/tierGuard.ts';
import { BusHearing } from './busHearing.ts';
import { readMessage, type BusMessage } from './busMessage.ts';
import { getValidTiming, type InvalidationBusOptions } from './busOptions.ts';
import { OriginSequences } from './originSequences.ts';
export type { InvalidationBusOptions } from './busOptions.ts';

/**
 * Carries invalidations between instances over Redis pub/sub, so every instance's L2 drops what a
 * write on any instance invalidated, and tells the owner when that can no longer be proved.
 *
 * Pub/sub delivers at most once, and a hung Redis, a partition or a subscription that moved to
 * another cluster node loses messages without closing anything. So the bus trusts only what it
 * hears ({@link BusHearing}). It starts deaf (the owner keeps L2 paused) and hears once one of its
 * own heartbeats, sent a heartbeat period after subscribing, has come back: the round trip
 * publisher -> Redis -> subscriber works, and every live instance has had time to be heard once. Then:
 * - none of its own messages for {@link InvalidationBusOptions.deadlineMs}: deaf, until one arrives;
 * - the subscriber connection closes: deaf at once;
 * - an invalidation of another instance is lost, a number skipped (see {@link OriginSequences}): the
 *   owner clears L2 (onDeaf then onHearing): the message that showed it was sent after the lost one,
 *   so clearing now drops whatever the lost one invalidated. A failed publish keeps its number, so
 *   the others clear at that instance's next message, or once it is silent for the deadline;
 * - an unreadable message: something was invalidated, we cannot tell what: L2 is cleared the same way.
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
  /** The numbers heard from each other origin: what they show was lost. */
  private readonly origins = new OriginSequences();
  private readonly hearingState: BusHearing;
  private closed = false;
  private subscribed = false;
  private subscribing = false;
  private readonly heartbeatTimer: NodeJS.Timeout;
  private warmUpTimer: NodeJS.Timeout | undefined;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- EventEmitter's own listener type
  private readonly listeners: Array<[event: string, listener: (...args: any[]) => void]>;

  constructor(private readonly options: InvalidationBusOptions) {
    ({ heartbeatMs: this.heartbeatMs, deadlineMs: this.deadlineMs } = getValidTiming(options));
    this.now = options.now ?? Date.now;
    const { subscriber, channel, logger } = options;
    this.hearingState = new BusHearing({
      deadlineMs: this.deadlineMs,
      now: this.now,
      onDeaf: (reason) => {
        logger.warn({ channel, reason }, 'invalidation bus deaf; L2 paused and cleared until every message is heard again');
        this.tell(() => options.onDeaf(reason));
      },
      onHearing: () => {
        logger.info({ channel }, 'invalidation bus hearing; L2 cleared and in use');
        this.tell(() => options.onHearing());
      },
    });
    this.sharded = subscriber.isCluster && (subscriber as Cluster).options.shardedSubscribers === true;
    if (subscriber.isCluster && !this.sharded) {
      logger.warn({ channel }, 'invalidation bus on classic pub/sub on a Cluster: messages overtake each other and clear L2; create the subscriber with shardedSubscribers: true');
    }
    this.listeners = [
      [this.sharded ? 'smessage' : 'message', (from: string, message: string) => from === channel && this.receive(message)],
      // The client resubscribes by itself after a reconnection; this is for the first subscription.
      ['ready', () => void this.subscribe()],
      // Whatever is published while the connection is down is lost: no need to wait for the deadline.
      ['close', () => this.hearingState.becomeDeaf('subscriber connection closed')],
      // Reconnecting is the client's; 'close' or the deadline has made the bus deaf already.
      ['error', () => {}],
    ];
    for (const [event, listener] of this.listeners) subscriber.on(event, listener);
    if (subscriber.status === 'ready') void this.subscribe();
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatMs).unref();
  }

  /** Whether every message is being heard: the owner may use L2. */
  get hearing(): boolean {
    return this.hearingState.hearing;
  }

  /** When one of its own messages last came back, ms since the epoch (0: never): the heartbeat's age. */
  get lastHeardAt(): number {
    return this.hearingState.lastHeardAt;
  }

  /** Resolves true as soon as the bus hears, false after `ms` or on close (startup does not wait long on a cache). */
  waitUntilHearing(ms: number): Promise<boolean> {
    return this.hearingState.waitUntilHearing(ms);
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
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.warmUpTimer);
    for (const [event, listener] of this.listeners) this.options.subscriber.off(event, listener);
    this.hearingState.close();
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
        this.hearingState.proveFrom(this.now());
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
      this.hearingState.lost('unreadable message');
      return;
    }
    if (message.origin === this.options.instanceId && message.boot === this.boot) {
      this.hearingState.heardOwn(message.sentAt);
      // Our round trip works: another instance silent for a deadline may have lost messages.
      const silent = this.origins.forgetSilent(this.now() - this.deadlineMs);
      if (silent > 0) this.hearingState.lost(`${silent} instance(s) not heard for ${this.deadlineMs} ms`);
      return;
    }
    const { origin, tags, generations, sentAt } = message;
    const missing = this.origins.heard(message, this.now());
    // Before delivering: the clear covers what was lost, the delivery what arrived.
    if (missing > 0) this.hearingState.lost(`${missing} invalidation(s) from ${origin} not heard`);
    if (tags.length > 0) this.tell(() => this.options.onInvalidation(tags, generations, sentAt));
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
