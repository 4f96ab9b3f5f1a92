import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config } from '../config/config.ts';
import { redisTarget } from '../config/redisTargets.ts';
import { HeardGenerations } from './coherence/heardGenerations.ts';
import { InvalidationBus } from './coherence/invalidationBus.ts';
import { InvalidationLog } from './coherence/invalidationLog.ts';
import { Invalidator } from './coherence/invalidator.ts';
import { LateFills } from './coherence/lateFills.ts';
import { LocalCoherence } from './coherence/localCoherence.ts';
import type { CacheKeys } from './keys.ts';
import { ReadThrough, type LoadEvent, type ReadObserver } from './readThrough/readThrough.ts';
import { Leases } from './stampede/leases.ts';
import { SingleFlight } from './stampede/singleFlight.ts';
import { MemoryTier } from './tiers/memoryTier.ts';
import { closeRedisClient, createRedisClient, waitUntilReady } from './tiers/redisClient.ts';
import { RedisTier } from './tiers/redisTier.ts';
import { TierGuard } from './tiers/tierGuard.ts';

/**
 * Every cache tier below the request, by role, and the coherence protocol they share. The data
 * read-through, the response tier and the mutations all take this, and only this.
 */
export interface CacheStack {
  /** L2: this process's memory. */
  readonly local?: MemoryTier;
  /** L3: Redis, shared by every instance. */
  readonly shared?: RedisTier;
  /** The shared tier's connection (one Redis or a Cluster), for the stores that live beside it (APQ). */
  readonly redis?: Redis | Cluster;
  /** Every call to the shared tier's Redis goes through it: degrade, never fail. */
  readonly guard?: TierGuard;
  readonly leases?: Leases;
  /** Invalidations to and from the other instances; only with both a local and a shared tier. */
  readonly bus?: InvalidationBus;
  /** The data read path: tier walk, single flight, fleet lease, load and fill, background refresh. */
  readonly readThrough: ReadThrough;
  /** The write half of the protocol: shared tier, local tier, heard, bus. */
  readonly invalidator: Invalidator;
  /** The fill half for what is fenced only after its load (responses, list rows). */
  readonly lateFills: LateFills;
  readonly heard: HeardGenerations;
  /**
   * Whether the local tier may be used: it hears every invalidation (the bus) and the shared tier
   * answers. True without a bus (one instance, or no local tier).
   */
  trusted(): boolean;
  close(): Promise<void>;
}

export interface CacheStackOptions {
  readonly config: Pick<Config, 'cacheTiers' | 'l2MaxBytes' | 'redisUrl' | 'redisClusterNodes' | 'redisCommandTimeoutMs' | 'leaseMs' | 'leaseWaitMs' | 'xfetchBeta'>;
  readonly keys: CacheKeys;
  /** How long the shared tier keeps an invalidated tag's generation (CacheAddresses.tagLifetimeMs). */
  readonly tagLifetimeMs: (tag: string) => number;
  /** This process, in the fleet: its own bus messages are not applied twice. */
  readonly instanceId: string;
  readonly logger: Logger;
  readonly onLoad?: (load: LoadEvent) => void;
  readonly onMiss?: (miss: { readonly kind: string; readonly keys: readonly string[] }) => void;
  /** Told every tag this instance invalidated: the CDN purge hook. */
  readonly onInvalidated?: (tags: readonly string[]) => void;
  /** Told what the read path does, batch by batch (the metrics). @default none */
  readonly observer?: ReadObserver;
  /** Told of each L3 command that failed or timed out. */
  readonly onRedisFailure?: (reason: 'error' | 'timeout') => void;
  /** Told of each L2 entry dropped to make room. */
  readonly onEvict?: () => void;
  /** Told how long each invalidation from another instance took to arrive, in ms. */
  readonly onPropagated?: (delayMs: number) => void;
}

/**
 * Builds the stack the config asks for. Startup does not wait long on Redis: without it the API
 * still serves, from the local tier and the database.
 */
export async function createCacheStack(options: CacheStackOptions): Promise<CacheStack> {
  const { config, keys, logger } = options;
  const log = new InvalidationLog();
  const flights = new SingleFlight<unknown>();
  const heard = new HeardGenerations();
  // One log of this process's invalidations: L2 fences with it, and so do the late fills, with or without L2.
  const local = config.cacheTiers.has('l2') ? new MemoryTier({ maxBytes: config.l2MaxBytes, log, ...(options.onEvict ? { onEvict: options.onEvict } : {}) }) : undefined;
  const target = config.cacheTiers.has('l3') ? redisTarget(config) : undefined;
  const connect = (to: NonNullable<typeof target>) => createRedisClient({ ...to, commandTimeoutMs: config.redisCommandTimeoutMs });

  const coherence = new LocalCoherence({ ...(local ? { local } : {}), log, flights });
  const dropLocal = (tags: readonly string[]) => coherence.drop(tags);
  // Made last, as it needs the tiers; the shared tier and its guard ask it about failed invalidations.
  let invalidator: Invalidator | undefined;

  const redis = target ? connect(target) : undefined;
  const subscriber = target && local ? createRedisClient({ ...target, commandTimeoutMs: config.redisCommandTimeoutMs, shardedSubscribers: true }) : undefined;
  const guard = redis
    ? new TierGuard({
        tier: 'L3',
        logger,
        timeoutMs: config.redisCommandTimeoutMs,
        ...(options.onRedisFailure ? { onFailure: options.onRedisFailure } : {}),
        onStateChange: (state) => {
          coherence.setSharedUp(state === 'up');
          // Invalidations that failed go first, before anyone waits for the next retry.
          if (state === 'up') invalidator?.retryNow();
        },
      })
    : undefined;
  if (redis && guard) redis.on('error', (error) => guard.markDown(error));
  const bus =
    redis && subscriber
      ? new InvalidationBus({
          subscriber,
          publisher: redis,
          channel: keys.invalidationChannel,
          instanceId: options.instanceId,
          commandTimeoutMs: config.redisCommandTimeoutMs,
          onInvalidation: (tags, generations, sentAt) => {
            options.onPropagated?.(Date.now() - sentAt);
            dropLocal(tags);
            // After the drop: from here on, this local tier holds nothing older than these.
            if (generations) heard.heard(tags, generations);
          },
          onDeaf: () => coherence.setHearing(false),
          onHearing: () => coherence.setHearing(true),
          logger,
        })
      : undefined;
  if (bus) coherence.setHearing(bus.hearing);
  const shared = redis && guard ? new RedisTier({ redis, guard, keys, tagLifetimeMs: options.tagLifetimeMs, logger, unconfirmed: () => invalidator?.unconfirmedNow() }) : undefined;
  const leases = redis && guard ? new Leases({ redis, guard, keys, leaseMs: config.leaseMs }) : undefined;
  if (redis) {
    await waitUntilReady(redis, 2000);
    await bus?.waitUntilHearing(2000);
  }

  const lateFills = new LateFills({ ...(local ? { local } : {}), ...(shared ? { shared } : {}), log, heard, trusted: () => coherence.isTrusted });
  const readThrough = new ReadThrough({
    lateFills,
    tiers: { ...(local ? { local } : {}), ...(shared ? { shared } : {}) },
    ...(leases ? { leases } : {}),
    flights,
    leaseWaitMs: config.leaseWaitMs,
    freshness: { beta: config.xfetchBeta },
    ...(options.onLoad ? { onLoad: options.onLoad } : {}),
    ...(options.onMiss ? { onMiss: options.onMiss } : {}),
    ...(options.observer ? { observer: options.observer } : {}),
    onRefreshError: (error, kind) => logger.warn({ err: error, kind }, 'background refresh failed; the entry is served until it expires'),
  });
  const made = new Invalidator({
    ...(shared ? { shared } : {}),
    ...(bus ? { bus } : {}),
    dropLocal,
    heard,
    ...(options.onInvalidated ? { onInvalidated: options.onInvalidated } : {}),
    logger,
  });
  invalidator = made;

  return {
    ...(local ? { local } : {}),
    ...(shared ? { shared } : {}),
    ...(redis ? { redis } : {}),
    ...(guard ? { guard } : {}),
    ...(leases ? { leases } : {}),
    ...(bus ? { bus } : {}),
    readThrough,
    invalidator: made,
    lateFills,
    heard,
    trusted: () => coherence.isTrusted,
    async close() {
      made.close();
      await bus?.close();
      if (subscriber) subscriber.disconnect();
      if (redis) await closeRedisClient(redis);
    },
  };
}
