import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface EvictionFloodOptions {
  /** Prefix of the flood's keys, so that a test tells them from the app's. @default 'flood:' */
  prefix?: string;
  /** Size of each value, in bytes. @default 1024 */
  valueBytes?: number;
  /**
   * Stop once this many keys have been evicted since the flood began (`evicted_keys` of `INFO stats`
   * counts from the server's start, and other tests may have evicted before).
   * @default none: only the other bounds stop the flood
   */
  untilEvicted?: number;
  /** Stop after writing this many keys. @default 100_000 */
  maxKeys?: number;
  /** Stop after this long, in ms. @default 10_000 */
  maxMs?: number;
  /** Stop when aborted: the batch in flight completes, no other starts. */
  signal?: AbortSignal;
  /** Keys written per round trip; the eviction count is read after each. @default 100 */
  batchSize?: number;
}

export interface EvictionFloodResult {
  /** Keys the flood wrote (each key is new: a rewrite would not add memory). */
  written: number;
  /** Keys Redis evicted while the flood ran, its own and others'. */
  evicted: number;
  /** The bound that stopped it; `oom` when Redis refused a write (a `noeviction` policy). */
  stoppedBy: 'evicted' | 'signal' | 'maxKeys' | 'maxMs' | 'oom';
}

/**
 * Writes keys that belong to nobody (another app sharing the Redis) until Redis has evicted enough,
 * so that a test can watch the app lose its own keys to `maxmemory` while it runs. Meant for a
 * throwaway server with a tiny `maxmemory` and an `allkeys-*` policy: against one without a limit,
 * only `maxKeys`, `maxMs` or the signal stop it.
 */
export async function floodForeignKeys(redis: Redis, options: EvictionFloodOptions = {}): Promise<EvictionFloodResult> {
  const { prefix, valueBytes, untilEvicted, maxKeys, maxMs, signal, batchSize } = getValidOptions(options);
  const value = 'x'.repeat(valueBytes);
  // Keys of their own per flood, so that a second flood adds memory instead of rewriting the first's.
  const keyspace = `${prefix}${randomUUID().slice(0, 8)}:`;
  const deadline = Date.now() + maxMs;
  const evictedBefore = await evictedKeys(redis);
  let written = 0;
  let evicted = 0;
  for (;;) {
    if (untilEvicted !== undefined && evicted >= untilEvicted) return { written, evicted, stoppedBy: 'evicted' };
    if (signal?.aborted) return { written, evicted, stoppedBy: 'signal' };
    if (written >= maxKeys) return { written, evicted, stoppedBy: 'maxKeys' };
    if (Date.now() >= deadline) return { written, evicted, stoppedBy: 'maxMs' };

    const batch = redis.pipeline();
    const size = Math.min(batchSize, maxKeys - written);
    for (let i = 0; i < size; i++) batch.set(`${keyspace}${written + i}`, value);
    const replies = (await batch.exec()) ?? [];
    const refused = replies.find(([error]) => error)?.[0];
    written += replies.filter(([error]) => !error).length;
    evicted = (await evictedKeys(redis)) - evictedBefore;
    if (refused && refused.message.startsWith('OOM')) return { written, evicted, stoppedBy: 'oom' };
    if (refused) throw refused;
  }
}

// Private:

async function evictedKeys(redis: Redis): Promise<number> {
  const stats = await redis.info('stats');
  const match = /^evicted_keys:(\d+)/m.exec(stats);
  if (!match) throw new Error(`INFO stats has no evicted_keys:\n${stats}`);
  return Number(match[1]);
}

function getValidOptions(options: EvictionFloodOptions) {
  return {
    prefix: options.prefix ?? 'flood:',
    valueBytes: getValidCount('valueBytes', options.valueBytes ?? 1024, 1),
    untilEvicted: options.untilEvicted === undefined ? undefined : getValidCount('untilEvicted', options.untilEvicted, 0),
    maxKeys: getValidCount('maxKeys', options.maxKeys ?? 100_000, 0),
    maxMs: getValidCount('maxMs', options.maxMs ?? 10_000, 0),
    signal: options.signal,
    batchSize: getValidCount('batchSize', options.batchSize ?? 100, 1),
  };
}

function getValidCount(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`floodForeignKeys: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
