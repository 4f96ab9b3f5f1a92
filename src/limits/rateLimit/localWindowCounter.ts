import { LRUCache } from 'lru-cache';
import { admit, type WindowDecision, type WindowPolicy } from './slidingWindow.ts';
import type { WindowCounter } from './windowCounter.ts';

export interface LocalWindowCounterOptions {
  /**
   * Keys (viewers and addresses) remembered at most; the least recently seen is forgotten first,
   * which lets it start over. Bounds memory to `maxKeys × limit` times. @default 100000
   */
  maxKeys?: number;
  /** Milliseconds, monotonic. @default performance.now */
  now?: () => number;
}

/**
 * The logs in this process, for a server without Redis: each instance counts alone, so N instances
 * admit up to N × limit. Never unavailable.
 */
export class LocalWindowCounter implements WindowCounter {
  private readonly logs: LRUCache<string, number[]>;
  private readonly now: () => number;

  constructor(options: LocalWindowCounterOptions = {}) {
    this.logs = new LRUCache({ max: options.maxKeys ?? 100_000 });
    this.now = options.now ?? (() => performance.now());
  }

  async count(key: string, policy: WindowPolicy): Promise<WindowDecision> {
    let log = this.logs.get(key);
    if (log === undefined) this.logs.set(key, (log = []));
    return admit(log, this.now(), policy);
  }
}
