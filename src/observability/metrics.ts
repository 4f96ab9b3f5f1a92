import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { LeaseWaitOutcome, ReadObserver, TierLabel, TierReadCounts } from '../cache/readThrough/readObserver.ts';
import { tagKind } from '../cache/tags/tags.ts';

export type ResponseTierResult = 'hit' | 'miss' | 'store' | 'not_modified';
/** Why the response tier did not keep a response (see README, "Operating it"). */
export type ResponseRefusal = 'fence' | 'unheard_generation' | 'private' | 'errors' | 'max_age_zero' | 'too_large';

/** What is read when Prometheus scrapes: each source is optional, a part that is off has none. */
export interface ScrapeSources {
  /** L2: bytes held, entries, and its bound. */
  l2?: () => { bytes: number; entries: number; maxBytes: number };
  /** Whether each remote tier answers (1) or is down (0), and L2 in use (1) or paused (0). */
  tiersUp?: () => Partial<Record<string, boolean>>;
  /** The invalidation bus: hearing every message, and when its own heartbeat last came back (ms since the epoch). */
  bus?: () => { hearing: boolean; lastHeardAt: number };
  /** Views buffered and not yet flushed, and the age of the oldest, in ms (0 when none). */
  views?: () => Promise<{ pending: number; oldestAgeMs: number } | undefined>;
}

/**
 * What the code tells the metrics. Two implementations: {@link CacheMetrics}, and {@link NO_METRICS}
 * for METRICS=off, whose `reads` is undefined so the read path does not even call it.
 */
export interface MetricsSink {
  readonly enabled: boolean;
  /** For the read path (ReadThrough's observer and the loaders' L1); undefined when off. */
  readonly reads: ReadObserver | undefined;
  /** Tags this instance invalidated. */
  invalidated(tags: readonly string[]): void;
  /** Another instance's invalidation arrived `delayMs` after it was sent. */
  propagated(delayMs: number): void;
  redisFailed(tier: string, reason: 'error' | 'timeout'): void;
  l2Evicted(): void;
  responseTier(result: ResponseTierResult): void;
  responseRefused(reason: ResponseRefusal): void;
  viewsFlushed(views: number): void;
  /** Adds what is read at scrape time; later calls add to earlier ones. */
  watch(sources: ScrapeSources): void;
  /** Writes the metrics as Prometheus text, `no-store`. */
  serve(res: ServerResponse): Promise<void>;
}

/**
 * The server's Prometheus metrics, on a registry of its own (not prom-client's global one), so that
 * several apps in one process (tests, the bench) never share or collide. Labels are kind, tier,
 * result, reason, outcome and tag_kind: never an id or a key.
 */
export class CacheMetrics implements MetricsSink {
  readonly enabled = true;
  readonly registry = new Registry();
  readonly reads: ReadObserver;
  private readonly sources: ScrapeSources[] = [];
  private readonly responses: Record<ResponseTierResult, Counter.Internal>;
  private readonly counters;
  private readonly propagation: Histogram;
  private readonly loadDuration: Histogram<'kind'>;

  constructor() {
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    this.counters = {
      requests: counter('gqlcache_requests_total', 'Keys read from each cache tier, by what the tier answered.', ['tier', 'kind', 'result']),
      loads: counter('gqlcache_loads_total', 'Database loads of the read path (one statement each).', ['kind']),
      loadedKeys: counter('gqlcache_loaded_keys_total', 'Keys loaded from the database by the read path.', ['kind']),
      coalesced: counter('gqlcache_loads_coalesced_total', 'Keys that joined a load already in flight in this process (single flight).', ['kind']),
      leaseWaits: counter('gqlcache_lease_waits_total', "Keys that waited for another instance's lease, by how the wait ended.", ['outcome']),
      earlyRefreshes: counter('gqlcache_early_refreshes_total', 'Entries served and refreshed early by XFetch.', ['kind']),
      graceServes: counter('gqlcache_grace_serves_total', 'Entries served past their TTL, within their grace, while one refresh runs.', ['kind']),
      invalidations: counter('gqlcache_invalidations_total', 'Tags this instance invalidated, by kind of tag.', ['tag_kind']),
      redisErrors: counter('gqlcache_redis_errors_total', 'Redis commands that failed or timed out.', ['tier', 'reason']),
      evictions: counter('gqlcache_l2_evictions_total', 'L2 entries dropped to make room.'),
      refusals: counter('gqlcache_response_tier_refusals_total', 'Responses the response tier did not store, by reason.', ['reason']),
      viewsFlushed: counter('gqlcache_views_flushed_total', 'Buffered product views moved into the database.'),
    };
    const responses = counter('gqlcache_response_tier_total', 'Response-tier lookups (hit, miss), stores, and 304 answers.', ['result']);
    // Bound once: a hit costs one increment, no label lookup.
    this.responses = { hit: responses.labels('hit'), miss: responses.labels('miss'), store: responses.labels('store'), not_modified: responses.labels('not_modified') };
    this.loadDuration = new Histogram({
      name: 'gqlcache_load_duration_seconds',
      help: 'Duration of database loads of the read path.',
      labelNames: ['kind'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.propagation = new Histogram({
      name: 'gqlcache_invalidation_propagation_seconds',
      help: "Delay from another instance's invalidation to its arrival here.",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.scrapeGauges(registers);
    collectDefaultMetrics({ register: this.registry });
    this.reads = this.readObserver();
  }

  invalidated(tags: readonly string[]): void {
    for (const tag of tags) this.counters.invalidations.inc({ tag_kind: tagKind(tag) });
  }

  propagated(delayMs: number): void {
    this.propagation.observe(Math.max(0, delayMs) / 1000);
  }

  redisFailed(tier: string, reason: 'error' | 'timeout'): void {
    this.counters.redisErrors.inc({ tier, reason });
  }

  l2Evicted(): void {
    this.counters.evictions.inc();
  }

  responseTier(result: ResponseTierResult): void {
    this.responses[result].inc();
  }

  responseRefused(reason: ResponseRefusal): void {
    this.counters.refusals.inc({ reason });
  }

  viewsFlushed(views: number): void {
    this.counters.viewsFlushed.inc(views);
  }

  watch(sources: ScrapeSources): void {
    this.sources.push(sources);
  }

  async serve(res: ServerResponse): Promise<void> {
    const text = await this.registry.metrics();
    res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' });
    res.end(text);
  }

  // Private:

  private readObserver(): ReadObserver {
    const { requests, loads, loadedKeys, coalesced, leaseWaits, earlyRefreshes, graceServes } = this.counters;
    const add = (tier: TierLabel, kind: string, result: string, n: number) => n > 0 && requests.inc({ tier, kind, result }, n);
    return {
      tierRead(tier: TierLabel, kind: string, counts: TierReadCounts) {
        add(tier, kind, 'hit', counts.hit);
        add(tier, kind, 'miss', counts.miss);
        add(tier, kind, 'stale', counts.stale);
        add(tier, kind, 'absent', counts.absent);
        if (counts.early > 0) earlyRefreshes.inc({ kind }, counts.early);
        if (counts.stale > 0) graceServes.inc({ kind }, counts.stale);
      },
      coalesced: (kind: string, keys: number) => coalesced.inc({ kind }, keys),
      leaseWaited: (outcome: LeaseWaitOutcome, keys: number) => leaseWaits.inc({ outcome }, keys),
      loaded: (kind: string, keys: number, seconds: number) => {
        loads.inc({ kind });
        loadedKeys.inc({ kind }, keys);
        this.loadDuration.observe({ kind }, seconds);
      },
    };
  }

  /** Gauges set from {@link ScrapeSources} when Prometheus scrapes, never on a request's path. */
  private scrapeGauges(registers: Registry[]): void {
    const sources = this.sources;
    const each = <T>(pick: (s: ScrapeSources) => T | undefined): T[] => sources.map(pick).filter((x): x is T => x !== undefined);
    const gauge = (name: string, help: string, collect: (g: Gauge) => void | Promise<void>, labelNames: string[] = []) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers,
        collect() {
          return collect(this);
        },
      });
    gauge('gqlcache_l2_bytes', 'Bytes L2 holds, as counted against its bound.', (g) => each((s) => s.l2).forEach((l2) => g.set(l2().bytes)));
    gauge('gqlcache_l2_entries', 'Entries L2 holds.', (g) => each((s) => s.l2).forEach((l2) => g.set(l2().entries)));
    gauge('gqlcache_l2_max_bytes', "L2's bound, in bytes (CACHE_L2_MAX_BYTES).", (g) => each((s) => s.l2).forEach((l2) => g.set(l2().maxBytes)));
    gauge(
      'gqlcache_tier_up',
      '1 while a tier is in use (L3: Redis answers; L2: trusted), 0 while it is down or paused.',
      (g) => each((s) => s.tiersUp).forEach((up) => Object.entries(up()).forEach(([tier, isUp]) => g.set({ tier }, isUp ? 1 : 0))),
      ['tier'],
    );
    gauge('gqlcache_bus_hearing', '1 while the invalidation bus hears every message, else 0 (L2 paused).', (g) => each((s) => s.bus).forEach((bus) => g.set(bus().hearing ? 1 : 0)));
    gauge('gqlcache_bus_heartbeat_age_seconds', "Time since this instance's own heartbeat last came back over the bus.", (g) =>
      each((s) => s.bus).forEach((bus) => {
        const { lastHeardAt } = bus();
        g.set(lastHeardAt === 0 ? Number.NaN : (Date.now() - lastHeardAt) / 1000);
      }),
    );
    // Both views gauges are collected in the same scrape: one read of Redis serves the two.
    let reading: Promise<{ pending: number; oldestAgeMs: number } | undefined> | undefined;
    const views = () =>
      (reading ??= Promise.all(each((s) => s.views).map((read) => read()))
        .then((all) => all[0])
        .finally(() => (reading = undefined)));
    gauge('gqlcache_views_pending', 'Product views buffered in Redis and not yet flushed into the database.', async (g) => {
      const backlog = await views();
      if (backlog) g.set(backlog.pending);
    });
    gauge('gqlcache_views_flush_lag_seconds', 'Age of the oldest buffered product view (0 when none).', async (g) => {
      const backlog = await views();
      if (backlog) g.set(backlog.oldestAgeMs / 1000);
    });
  }
}

/** METRICS=off: nothing is counted, and the read path is given no observer at all. */
export const NO_METRICS: MetricsSink = {
  enabled: false,
  reads: undefined,
  invalidated() {},
  propagated() {},
  redisFailed() {},
  l2Evicted() {},
  responseTier() {},
  responseRefused() {},
  viewsFlushed() {},
  watch() {},
  async serve(res) {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end('metrics are off (METRICS=off)\n');
  },
};
