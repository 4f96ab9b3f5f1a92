import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- imported for the {@link} in a doc comment
import type { InvalidationBus } from './invalidationBus.ts';

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
  /** Another instance's invalidation (this bus's own are not delivered), and when it was sent (ms since the epoch). Synchronous. */
  onInvalidation(tags: readonly string[], generations: readonly string[] | undefined, sentAt: number): void;
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

/** The heartbeat and the deadline, defaulted, and the command timeout: a TypeError names a bad one. */
export function getValidTiming(options: InvalidationBusOptions): { heartbeatMs: number; deadlineMs: number } {
  const { heartbeatMs = 500, deadlineMs = 2000, commandTimeoutMs } = options;
  for (const [name, value] of Object.entries({ heartbeatMs, deadlineMs, commandTimeoutMs })) {
    if (!Number.isFinite(value) || value <= 0) throw new TypeError(`InvalidationBus: ${name} must be a positive number of ms, got ${String(value)}`);
  }
  if (deadlineMs <= heartbeatMs) throw new TypeError(`InvalidationBus: deadlineMs (${deadlineMs}) must be greater than heartbeatMs (${heartbeatMs})`);
  return { heartbeatMs, deadlineMs };
}
