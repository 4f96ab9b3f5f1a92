import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { MemoryTier } from '../tiers/memoryTier.ts';
import type { HeardGenerations } from './heardGenerations.ts';

export interface InvalidationBusOptions {
  /** A connection of its own: once subscribed, a Redis connection can do nothing else. */
  subscriber: Redis | Cluster;
  /** Any connection to publish on (the L3 one). */
  publisher: Redis | Cluster;
  channel: string;
  /** This process; its own messages are skipped (it applied them before publishing). */
  instanceId: string;
  memoryTier: MemoryTier;
  /** Where the L3 generations of applied messages are recorded (see HeardGenerations). */
  heard?: HeardGenerations;
  logger: Logger;
}

/**
 * Carries invalidations between instances over Redis pub/sub, so every instance's L2 drops what a
 * write on any instance invalidated.
 *
 * Pub/sub delivers at most once: a message published while this instance is disconnected is lost.
 * So L2 is paused (reads miss, writes are dropped) from the moment the subscription is lost, and
 * cleared when it is back: an L2 that may have missed an invalidation is never read.
 */
export class InvalidationBus {
  private subscribed = false;

  constructor(private readonly options: InvalidationBusOptions) {
    const { subscriber, memoryTier, logger } = options;
    memoryTier.pause();
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === options.channel) this.receive(message);
    });
    subscriber.on('ready', () => {
      this.subscribe().catch((error: unknown) => logger.warn({ err: error }, 'invalidation channel subscribe failed'));
    });
    for (const event of ['close', 'end'] as const) {
      subscriber.on(event, () => {
        if (!this.subscribed) return;
        this.subscribed = false;
        memoryTier.pause();
        logger.warn({ channel: options.channel }, 'invalidation channel lost; L2 paused and cleared until it is back');
      });
    }
    subscriber.on('error', () => {
      // Reconnection is the client's; 'close' above has already paused L2.
    });
  }

  /** Whether invalidations from other instances are arriving (L2 is in use). */
  get connected(): boolean {
    return this.subscribed;
  }

  /** Resolves once subscribed, or after `ms` (startup does not wait long on a cache). */
  async waitUntilConnected(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.subscribed && Date.now() < deadline) await sleep(10);
    return this.subscribed;
  }

  /** Tells the other instances. Failure is logged, not thrown: a disconnected instance has paused its L2. */
  async publish(tags: readonly string[], generations?: readonly string[]): Promise<void> {
    const message = JSON.stringify({ origin: this.options.instanceId, tags, ...(generations ? { generations } : {}) });
    try {
      await this.options.publisher.publish(this.options.channel, message);
    } catch (error) {
      this.options.logger.warn({ err: error, tags }, 'invalidation not published');
    }
  }

  async stop(): Promise<void> {
    this.subscribed = false;
    this.options.subscriber.disconnect();
  }

  private async subscribe(): Promise<void> {
    await this.options.subscriber.subscribe(this.options.channel);
    if (this.subscribed) return;
    this.subscribed = true;
    // Whatever L2 held may have missed messages while we were away.
    this.options.memoryTier.resume();
    this.options.logger.info({ channel: this.options.channel }, 'listening for invalidations; L2 in use');
  }

  private receive(message: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      parsed = undefined;
    }
    const { origin, tags, generations } = (parsed ?? {}) as { origin?: unknown; tags?: unknown; generations?: unknown };
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string')) {
      // Something invalidated, we cannot tell what: drop everything rather than serve it stale.
      this.options.logger.warn({ message: message.slice(0, 200) }, 'unreadable invalidation; L2 cleared');
      this.options.memoryTier.clear();
      return;
    }
    if (origin === this.options.instanceId) return;
    void this.options.memoryTier.invalidateTags(tags);
    // After the L2 drop above (synchronous): from here on, this L2 holds nothing older than these.
    if (Array.isArray(generations) && generations.length === tags.length && generations.every((g) => typeof g === 'string')) {
      this.options.heard?.heard(tags, generations);
    }
  }
}
