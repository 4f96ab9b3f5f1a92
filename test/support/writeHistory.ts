/**
 * What a randomised test knows of its writes, and whether a read it made shows an older value than
 * a write it had already seen answered. Pure: times are given, on one monotonic clock (ms).
 *
 * A read can only be judged against what the test can tell apart from the outside. A write is known
 * from the moment its request was sent to the moment it was answered, and somewhere in between it
 * committed; so of two writes of one item, one is surely older than the other only when it was
 * answered before the other was sent. A version is *superseded* for a read that started at `s` when
 * a write of the same item, sent after that version's write was answered, was itself answered before
 * `s`. A read is then:
 * - fresh: its value is that of a version not superseded when it started (a write still in flight
 *   when it was answered counts: it may have committed already);
 * - stale: its value is only that of superseded versions: the read started after the write that
 *   superseded it was answered, and showed the older value anyway;
 * - phantom: its value is that of no version sent before it was answered.
 */

/** A request as the test saw it. */
export interface Span {
  /** When the request was sent (the test's monotonic clock, ms). */
  readonly sentAt: number;
  /** When its answer arrived. */
  readonly answeredAt: number;
  /** The app instance that served it. */
  readonly instance: string;
  /** The fault phase it was sent in. */
  readonly phase: string;
}

/** One state of an item, and the write that produced it. */
export interface Version<S> extends Span {
  readonly state: S;
  readonly cause: 'initial' | 'create' | 'update' | 'delete';
  /** The write's number in the history, for reports; 0 for an initial state. */
  readonly write: number;
}

export type Verdict<S> =
  | { readonly kind: 'fresh' }
  | {
      readonly kind: 'stale';
      /** The version shown: of those matching the value, the least stale (see {@link judge}). */
      readonly shown: Version<S>;
      /** The earliest-answered write that superseded it, on the reading instance if one did. */
      readonly supersededBy: Version<S>;
      /** Whether a write on the reading instance superseded it: read-your-writes broken. */
      readonly ownInstance: boolean;
      /** How long before the read started the shown version was first superseded, in ms. */
      readonly ageMs: number;
    }
  | { readonly kind: 'phantom' };

/**
 * Every version of every item, by item key (`Product:7`). An item may cascade from another: the
 * other's deletions count as its own (a product's deletion deletes its reviews).
 */
export class WriteHistory {
  private readonly items = new Map<string, { versions: Version<unknown>[]; cascadeFrom?: string }>();
  private writes = 0;

  /** The item's state before the run, or before the write that creates it (then `null`). */
  initial<S>(item: string, state: S, options: { cascadeFrom?: string } = {}): this {
    if (this.items.has(item)) throw new Error(`WriteHistory: ${item} already has an initial state`);
    const version: Version<unknown> = {
      state,
      cause: 'initial',
      write: 0,
      sentAt: Number.NEGATIVE_INFINITY,
      answeredAt: Number.NEGATIVE_INFINITY,
      instance: 'setup',
      phase: 'setup',
    };
    this.items.set(item, { versions: [version], ...(options.cascadeFrom ? { cascadeFrom: options.cascadeFrom } : {}) });
    return this;
  }

  /** A write that was answered as done; returns its number. */
  record<S>(item: string, state: S, cause: Exclude<Version<S>['cause'], 'initial'>, span: Span): number {
    const entry = this.items.get(item);
    if (!entry) throw new Error(`WriteHistory: ${item} has no initial state`);
    this.writes += 1;
    entry.versions.push({ ...span, state, cause, write: this.writes });
    return this.writes;
  }

  has(item: string): boolean {
    return this.items.has(item);
  }

  /** Every item key that starts with `prefix`. */
  keys(prefix: string): string[] {
    return [...this.items.keys()].filter((key) => key.startsWith(prefix));
  }

  /** The item's versions, with its parent's deletions as deletions of its own (state null); none for an unknown item. */
  versions<S>(item: string): Version<S | null>[] {
    const entry = this.items.get(item);
    if (!entry) return [];
    const own = entry.versions as Version<S>[];
    if (!entry.cascadeFrom) return own;
    const parentDeletions = this.versions<unknown>(entry.cascadeFrom)
      .filter((version) => version.cause === 'delete')
      .map((version) => ({ ...version, state: null }));
    return [...own, ...parentDeletions];
  }

  /** The state of the last version answered, for choosing the next write (not for judging). */
  latest<S>(item: string): S | undefined {
    const versions = this.versions<S>(item);
    if (versions.length === 0) return undefined;
    return versions.reduce((a, b) => (b.answeredAt >= a.answeredAt ? b : a)).state as S;
  }
}

/**
 * Judges one value a read showed against the versions of its item. `matches` says whether a
 * version's state is the value shown. When several versions match (equal states), the read is
 * judged by the least stale of them: any fresh one makes it fresh; otherwise one superseded by no
 * write of the reading instance is preferred, then the one superseded most recently.
 */
export function judge<S>(versions: readonly Version<S>[], read: Span, matches: (state: S) => boolean): Verdict<S> {
  const candidates = versions.filter((version) => version.sentAt < read.answeredAt && matches(version.state));
  if (candidates.length === 0) return { kind: 'phantom' };
  let best: Extract<Verdict<S>, { kind: 'stale' }> | undefined;
  for (const shown of candidates) {
    const newer = versions.filter((w) => w !== shown && shown.answeredAt < w.sentAt && w.answeredAt < read.sentAt);
    if (newer.length === 0) return { kind: 'fresh' };
    const own = newer.filter((w) => w.instance === read.instance);
    const first = earliestAnswered(newer);
    const verdict = {
      kind: 'stale' as const,
      shown,
      supersededBy: own.length > 0 ? earliestAnswered(own) : first,
      ownInstance: own.length > 0,
      ageMs: read.sentAt - first.answeredAt,
    };
    if (!best || Number(verdict.ownInstance) < Number(best.ownInstance) || (verdict.ownInstance === best.ownInstance && verdict.ageMs < best.ageMs)) {
      best = verdict;
    }
  }
  return best as Verdict<S>;
}

// Private:

function earliestAnswered<S>(versions: readonly Version<S>[]): Version<S> {
  return versions.reduce((a, b) => (b.answeredAt < a.answeredAt ? b : a));
}
