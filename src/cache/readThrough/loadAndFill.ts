import { ATTR, inSpan, SPAN, traceAttribute, traceReturnedRows } from '../../observability/tracing.ts';
import type { CacheEntry, CachedKind } from '../entry.ts';
import { fillTiers, tierWrite, type Fences, type Load, type ReadItem, type Tiers } from './readItem.ts';

export interface LoadEvent {
  readonly kind: string;
  readonly keys: readonly string[];
  /**
   * `miss`: a request waited for it; `wait-timeout`: a miss whose lease another instance held, and
   * whose fill did not arrive within the lease wait; `refresh`: early (XFetch) or stale (grace), in
   * the background.
   */
  readonly reason: 'miss' | 'wait-timeout' | 'refresh';
}

export interface LoadAndFillOptions {
  readonly tiers: Tiers;
  /** Wall clock for expiry, ms since the epoch. */
  readonly now: () => number;
  /** Monotonic clock for measuring load time, ms. */
  readonly elapsed: () => number;
  /** Told of every database load. */
  readonly onLoad?: (load: LoadEvent) => void;
}

/**
 * The last step of a miss: one load from the database for every item still missing, then a fill of
 * every tier under the fences taken before the load, so that a value loaded before a write is never
 * stored after its invalidation. Also builds the entries written through by mutations, with the
 * load time last measured for their kind (XFetch's delta).
 */
export class LoadAndFill {
  private readonly computeMsByKind = new Map<string, number>();

  constructor(private readonly options: LoadAndFillOptions) {}

  /** Loads `items`, answers them, and fills the tiers under `fences`. */
  async run<R, V>(kind: CachedKind<V>, items: readonly ReadItem<R, V>[], load: Load<R, V>, fences: Fences, reason: LoadEvent['reason']): Promise<void> {
    if (items.length === 0) return;
    const started = this.options.elapsed();
    const values = await this.load(kind, items, load, reason);
    const computeMs = this.options.elapsed() - started;
    this.computeMsByKind.set(kind.name, computeMs);
    const now = this.options.now();
    items.forEach((item, i) => (item.answer = { value: values[i] ?? null }));
    await fillTiers(
      this.options.tiers,
      items.map((item, i) => tierWrite(item, this.entryFor(kind, values[i] ?? null, { computeMs, now }), now)),
      fences,
    );
  }

  /** Loads without filling: a kind the schema does not let us cache. */
  load<R, V>(kind: CachedKind<V>, items: readonly ReadItem<R, V>[], load: Load<R, V>, reason: LoadEvent['reason']): Promise<(V | null)[]> {
    return inSpan(SPAN.load, () => this.loadInSpan(kind, items, load, reason));
  }

  /** {@link load}, in the load's span. */
  private async loadInSpan<R, V>(kind: CachedKind<V>, items: readonly ReadItem<R, V>[], load: Load<R, V>, reason: LoadEvent['reason']): Promise<(V | null)[]> {
    traceAttribute(ATTR.kind, kind.name);
    traceAttribute(ATTR.keys, items.length);
    traceAttribute(ATTR.loadReason, reason);
    const values = await load(items.map((item) => item.item));
    traceReturnedRows(values);
    this.options.onLoad?.({ kind: kind.name, keys: items.map((item) => item.key), reason });
    return items.map((_, i) => values[i] ?? null);
  }

  /** The entry for a value of `kind` made now; `computeMs` defaults to the kind's last measured load. */
  entryFor<V>(kind: CachedKind<V>, value: V | null, options: { now: number; computeMs?: number; version?: number }): CacheEntry<V> {
    const ttlMs = (value === null ? kind.absentTtlSeconds : kind.ttlSeconds) * 1000;
    // Absent markers get no grace: a row created meanwhile should show up as soon as it may.
    const graceMs = value === null ? 0 : kind.graceSeconds * 1000;
    return {
      // Cached values are shared by every request of this process: nobody may change them.
      value: freeze(value),
      expiresAt: options.now + ttlMs,
      staleUntil: options.now + ttlMs + graceMs,
      computeMs: options.computeMs ?? this.computeMsByKind.get(kind.name) ?? 0,
      version: options.version ?? (value === null || !kind.versionOf ? 0 : kind.versionOf(value)),
    };
  }
}

// Private:

function freeze<V>(value: V): V {
  return value !== null && typeof value === 'object' ? Object.freeze(value) : value;
}
