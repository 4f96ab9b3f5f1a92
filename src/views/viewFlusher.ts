import type { Cluster, Redis } from 'ioredis';
import { admitFencingToken } from '../coordination/fencing.ts';
import { Locks, type LockLease } from '../coordination/lock.ts';
import { DEFAULTS } from '../config/config.ts';
import type { Prisma } from '../database/database.ts';
import { LockNotAcquiredError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { FlusherGroup } from './flusherGroup.ts';
import { parseEntries } from './streamEntries.ts';
import { applyViewEvents, sweepViewEvents } from './viewEvents.ts';
import { viewKeys } from './viewKeys.ts';

export interface ViewFlusherOptions {
  redis: Redis | Cluster;
  prisma: Prisma;
  /** The app's CACHE_PREFIX, the same the ViewCounter was given. */
  prefix: string;
  /** This process's name in the consumer group; unique per process (e.g. hostname-pid-random). */
  consumer: string;
  /** Stream entries per batch, so per database statement. @default {@link Config.viewFlushBatchSize} */
  batchSize?: number;
  /** Pause between batches when the last one was not full, in ms. @default {@link Config.viewFlushIntervalMs} */
  intervalMs?: number;
  /**
   * Entries delivered to a consumer and not acked for this long (ms) are taken over, with XAUTOCLAIM:
   * that consumer died mid-batch, or its batch failed. Well above one batch's duration. @default {@link Config.viewFlushClaimIdleMs}
   */
  claimIdleMs?: number;
  /**
   * The TTL of the flush lock, in ms: one flusher at a time reads and applies a batch, and one that
   * stops renewing (dead, or paused) loses the lock after this long. @default the larger of
   * `claimIdleMs` and 1000, so a dead flusher's lock frees about when its batch can be claimed
   */
  lockTtlMs?: number;
  /** A Redis command of the flush lock not answered after this many ms fails the batch. @default 250 */
  commandTimeoutMs?: number;
  /**
   * How long the dedupe row of an applied view is kept, in ms. It must outlive every way the same
   * event can still arrive: a redelivery (at most `claimIdleMs` after the crash), a flusher that
   * stalled between its read and its commit while another took its batch over, or the direct write of
   * a view whose Redis write timed out yet landed. An hour is far beyond all three, and keeps the
   * table at one hour of views. @default 3600000
   */
  dedupeRetentionMs?: number;
  logger: Logger;
  /**
   * Called after a batch is committed and before it is acked, with the batch's product ids (their
   * viewCount and version changed); the app invalidates their cache entries here. If it throws, the
   * batch stays unacked and is redelivered, which applies nothing again but calls this again.
   */
  onFlushed?: (productIds: number[]) => Promise<void>;
  /** Told how many stream entries each batch acked (the metrics' flushed views). */
  onAcked?: (entries: number) => void;
}

/**
 * The write-behind half of the view counter: moves views buffered in the Redis stream into
 * Product.viewCount, a batch at a time, each view exactly once.
 *
 * Every flusher reads the stream in one consumer group, so a batch goes to one of them. A batch is
 * applied in one database statement that also records its event ids (viewEvents.ts), then acked,
 * deleted from the stream and subtracted from the pending counts in one Redis script. A flusher
 * killed between the two steps leaves its batch pending in the group; another flusher (or this one,
 * restarted under a new name) claims it once idle for `claimIdleMs`, and applying it again adds
 * nothing. Only entries that this script acks are subtracted, so a batch acked twice (two flushers
 * racing on a claimed batch) is subtracted once.
 *
 * A batch is read and applied under the flush lock (src/coordination/lock.ts), one flusher at a
 * time, and its commit is fenced by the lock's token. The dedupe rows alone stop a second apply only
 * while they are kept: a flusher paused between its read and its commit for longer than
 * `dedupeRetentionMs`, whose batch another flusher claimed and applied meanwhile, would apply it
 * again when it wakes. The fence refuses that commit however long the pause.
 */
export class ViewFlusher {
  private readonly group: FlusherGroup;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly claimIdleMs: number;
  private readonly dedupeRetentionMs: number;
  private readonly lockTtlMs: number;
  private readonly locks: Locks;
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<number> | undefined;
  private failing = false;
  private lastSweep = 0;

  constructor(private readonly options: ViewFlusherOptions) {
    if (options.consumer.length === 0) throw new TypeError('consumer must be a non-empty name');
    this.batchSize = getValidCount(options.batchSize, 'batchSize', DEFAULTS.viewFlushBatchSize, 1);
    this.intervalMs = getValidCount(options.intervalMs, 'intervalMs', DEFAULTS.viewFlushIntervalMs, 0);
    this.claimIdleMs = getValidCount(options.claimIdleMs, 'claimIdleMs', DEFAULTS.viewFlushClaimIdleMs, 0);
    this.dedupeRetentionMs = getValidCount(options.dedupeRetentionMs, 'dedupeRetentionMs', 3_600_000, 1);
    this.lockTtlMs = getValidCount(options.lockTtlMs, 'lockTtlMs', Math.max(this.claimIdleMs, 1000), 1);
    // No wait: a flusher that finds another flushing has nothing to do until its next tick.
    this.locks = new Locks({ redis: options.redis, prefix: options.prefix, acquireWaitMs: 0, commandTimeoutMs: options.commandTimeoutMs });
    const { redis, consumer, prefix } = options;
    this.group = new FlusherGroup({ redis, keys: viewKeys(prefix), consumer, batchSize: this.batchSize, claimIdleMs: this.claimIdleMs });
  }

  /**
   * Flushes in a loop until {@link stop}: at once after a full batch, after `intervalMs` otherwise.
   * The consumer group is created (with the stream, MKSTREAM) by the first read that finds it
   * missing, which also covers a Redis that restarted empty.
   */
  start(): this {
    if (this.running) return this;
    this.running = true;
    // The first sweep waits a full interval: a process that just started has swept nothing stale yet
    // worth a statement at startup.
    this.lastSweep = Date.now();
    this.schedule(0);
    return this;
  }

  /**
   * One batch: entries abandoned by a dead or failing consumer first, new entries otherwise.
   * Resolves to the number of stream entries handled (0: nothing to do, or another flusher is
   * flushing); throws when Redis or the database fails, leaving the batch to be claimed again, or
   * when the flush lock was lost meanwhile (LockLostError).
   */
  async flushOnce(): Promise<number> {
    try {
      return await this.locks.withLock(VIEW_FLUSH_LOCK, this.lockTtlMs, (lease) => this.flushHolding(lease));
    } catch (error) {
      if (error instanceof LockNotAcquiredError) return 0;
      throw error;
    }
  }

  /**
   * Stops the loop, waits for the batch in flight, then flushes what is buffered until nothing new
   * is left for this consumer or `stopTimeoutMs` has passed. A failure ends the drain early: what is
   * left stays in the stream for the next flusher.
   */
  async stop(stopTimeoutMs = 5000): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.inFlight;
    const deadline = Date.now() + stopTimeoutMs;
    while (Date.now() < deadline) {
      try {
        if ((await this.flushOnce()) === 0) return;
      } catch (error) {
        this.options.logger.warn({ err: error }, 'view flush at shutdown failed; the rest stays buffered in Redis');
        return;
      }
    }
  }

  // Private:

  private async flushHolding(lease: LockLease): Promise<number> {
    // Read under the lock: the fencing token must be older than any takeover of this batch.
    const entries = await this.group.readBatch();
    if (entries.length === 0) return 0;
    const { events, productIds, ackArgs } = parseEntries(entries);
    // Commit first: until the ack below, a crash only means the batch is delivered again. Fenced: a
    // flusher that lost the lock while paused here is refused, and its batch is left to the new holder.
    if (events.length > 0) {
      await this.options.prisma.$transaction(async (tx) => {
        // Named like the lock (per CACHE_PREFIX): each prefix's flushers have their own token sequence.
        await admitFencingToken(tx, `${this.options.prefix}${VIEW_FLUSH_LOCK}`, lease.fencingToken);
        await applyViewEvents(tx, events);
      });
    }
    if (this.options.onFlushed && productIds.length > 0) await this.options.onFlushed(productIds);
    await this.group.ack(ackArgs);
    this.options.onAcked?.(entries.length);
    return entries.length;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    // stop() waits for this, sweep included, before it flushes the rest and the caller closes the pool.
    this.inFlight = this.flushLogged().then(async (handled) => {
      await this.sweepWhenDue();
      return handled;
    });
    const handled = await this.inFlight;
    this.inFlight = undefined;
    if (this.running) this.schedule(handled >= this.batchSize ? 0 : this.intervalMs);
  }

  /** flushOnce for the loop: a failure is logged once per outage and retried on the next tick. */
  private async flushLogged(): Promise<number> {
    try {
      const handled = await this.flushOnce();
      if (this.failing) {
        this.failing = false;
        this.options.logger.info('view flush recovered');
      }
      return handled;
    } catch (error) {
      if (!this.failing) {
        this.failing = true;
        this.options.logger.warn({ err: error }, 'view flush failed; views stay buffered in Redis and are retried');
      }
      return 0;
    }
  }

  private async sweepWhenDue(): Promise<void> {
    if (Date.now() - this.lastSweep < SWEEP_INTERVAL_MS) return;
    this.lastSweep = Date.now();
    try {
      await sweepViewEvents(this.options.prisma, this.dedupeRetentionMs);
    } catch (error) {
      // Only the table's size depends on it; the next sweep catches up.
      this.options.logger.warn({ err: error }, 'sweep of applied view events failed');
    }
  }
}

// Private:

const SWEEP_INTERVAL_MS = 60_000;

/** The lock every flusher of a prefix reads and applies under; also its fence's name in "lock_fences". */
const VIEW_FLUSH_LOCK = 'views-flush';

/** `value`, or `fallback` when undefined; anything but an integer >= min is a TypeError naming the option. */
function getValidCount(value: number | undefined, option: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${option} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}
