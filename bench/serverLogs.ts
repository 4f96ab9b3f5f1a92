import type { LogLine } from '../test/support/logLines.ts';

/**
 * What the bench reads from the servers' JSON log lines (captured by test/support/logLines.ts): the
 * database loads of the read path (`database load`, logged at debug level by src/app.ts) and
 * anything at warn level or above.
 */
/** One load of cache misses from the database, as src/cache/readThrough.ts reports it (LoadEvent). */
export interface DatabaseLoad {
  readonly time: number;
  readonly kind: string;
  readonly keys: readonly string[];
  /** `miss` and `wait-timeout`: requests waited for it; `refresh`: early (XFetch) or stale (grace), in the background. */
  readonly reason: 'miss' | 'wait-timeout' | 'refresh';
}

/** pino's level for warn. */
const WARN = 40;

/** Every `database load` line of `logs`, oldest first. */
export function databaseLoads(logs: readonly LogLine[]): DatabaseLoad[] {
  return logs.filter((line) => line.msg === 'database load').map((line) => ({ time: line.time, kind: line.kind as string, keys: line.keys as string[], reason: line.reason as DatabaseLoad['reason'] }));
}

/** How often each reason occurs among `loads`, counting every key a load carried. */
export function keyLoadsByReason(loads: readonly DatabaseLoad[]): Record<DatabaseLoad['reason'], number> {
  const counts = { miss: 0, 'wait-timeout': 0, refresh: 0 };
  for (const load of loads) counts[load.reason] += load.keys.length;
  return counts;
}

/** The distinct messages at warn level or above, each with how often it occurred, e.g. `cache tier L3 unavailable (x2)`. */
export function warnings(logs: readonly LogLine[]): string[] {
  const counts = new Map<string, number>();
  for (const line of logs) if (line.level >= WARN) counts.set(line.msg, (counts.get(line.msg) ?? 0) + 1);
  return [...counts].map(([msg, n]) => (n === 1 ? msg : `${msg} (x${n})`));
}
