import type { CacheStack, CacheStackOptions } from '../cache/stack.ts';
import type { ViewCounting } from '../views/viewCounting.ts';
import type { MetricsSink, ScrapeSources } from './metrics.ts';

/** The cache stack's hooks that feed the metrics; none when they are off, so the stack calls nothing. */
export function cacheStackHooks(metrics: MetricsSink): Pick<CacheStackOptions, 'observer' | 'onRedisFailure' | 'onEvict' | 'onPropagated'> {
  if (!metrics.reads) return {};
  return {
    observer: metrics.reads,
    onRedisFailure: (reason) => metrics.redisFailed('L3', reason),
    onEvict: () => metrics.l2Evicted(),
    onPropagated: (delayMs) => metrics.propagated(delayMs),
  };
}

/** What Prometheus' scrape reads from the parts that are there: L2, the tiers' state, the bus, the views backlog. */
export function scrapeSources(cache: CacheStack, views: Pick<ViewCounting, 'backlog'>): ScrapeSources {
  const { local, guard, bus } = cache;
  return {
    ...(local ? { l2: () => ({ bytes: local.sizeBytes, entries: local.entryCount, maxBytes: local.maxBytes }) } : {}),
    tiersUp: () => ({ ...(local ? { L2: cache.trusted() } : {}), ...(guard ? { L3: guard.state === 'up' } : {}) }),
    ...(bus ? { bus: () => ({ hearing: bus.hearing, lastHeardAt: bus.lastHeardAt }) } : {}),
    ...(views.backlog ? { views: views.backlog } : {}),
  };
}
