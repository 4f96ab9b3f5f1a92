// What the faults section does to the Redis of its instances, one fault at a time. Each instance
// reaches the throwaway redis-server through a FaultProxy, so a fault is either the server's
// (killed, restarted, short of memory) or the network's (hung, slow, connections ended or reset).
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { floodForeignKeys } from '../test/support/evictionFlood.ts';
import type { FaultProxy } from '../test/support/faultProxy.ts';
import type { ThrowawayRedis } from '../test/support/throwawayRedis.ts';

/** The Redis the instances use, and the proxy they reach it through. */
export interface FaultTarget {
  readonly redis: ThrowawayRedis;
  readonly proxy: FaultProxy;
}

export interface RedisFault {
  readonly name: string;
  /** What is done, for the notes under the table. */
  readonly what: string;
  /** Starts the fault; resolves to what ends it, which resolves once Redis is reachable again. */
  begin(target: FaultTarget): Promise<() => Promise<FaultOutcome>>;
}

/** Anything worth a note that a fault saw, such as what the eviction flood wrote. */
export type FaultOutcome = string | undefined;

/** The slow fault's delay each way, drawn again every {@link JITTER_EVERY_MS}. */
const SLOW_MS = { min: 50, max: 100 } as const;
const JITTER_EVERY_MS = 200;
/** Room the eviction fault leaves above what Redis holds when it starts: the flood fills it at once. */
const EVICTION_HEADROOM_BYTES = 1024 * 1024;
/** The flood's pace: keys of 1 KiB per round, one round every {@link FLOOD_PAUSE_MS} (about 2 MB/s). */
const FLOOD_KEYS_PER_ROUND = 100;
const FLOOD_PAUSE_MS = 50;

const nothingToUndo = async (): Promise<FaultOutcome> => undefined;

/** Every fault, in the order the section runs them; the first is the baseline. */
export const REDIS_FAULTS: readonly RedisFault[] = [
  { name: 'none', what: 'nothing: the baseline', begin: async () => nothingToUndo },
  {
    name: 'down',
    what: 'redis-server killed (SIGKILL); started again, empty, when the fault ends',
    async begin({ redis }) {
      await redis.kill();
      return async () => {
        await redis.restart();
        return undefined;
      };
    },
  },
  {
    name: 'hung',
    what: 'proxy holds every byte both ways (a partition); released in order when the fault ends',
    async begin({ proxy }) {
      proxy.set({ kind: 'hang' });
      return passAgain(proxy);
    },
  },
  {
    name: 'slow',
    what: `proxy delays every chunk each way by ${SLOW_MS.min}-${SLOW_MS.max} ms, drawn again every ${JITTER_EVERY_MS} ms`,
    async begin({ proxy }) {
      const draw = () => proxy.set({ kind: 'delay', ms: SLOW_MS.min + Math.round(Math.random() * (SLOW_MS.max - SLOW_MS.min)) });
      draw();
      const jitter = setInterval(draw, JITTER_EVERY_MS);
      const pass = passAgain(proxy);
      return () => {
        clearInterval(jitter);
        return pass();
      };
    },
  },
  {
    name: 'dropped',
    what: 'proxy ends every connection (FIN), and each new one at once',
    async begin({ proxy }) {
      proxy.set({ kind: 'drop' });
      return passAgain(proxy);
    },
  },
  {
    name: 'reset',
    what: 'proxy resets every connection (RST), and each new one at once',
    async begin({ proxy }) {
      proxy.set({ kind: 'reset' });
      return passAgain(proxy);
    },
  },
  {
    name: 'restart',
    what: 'redis-server killed and started again at once, empty',
    async begin({ redis }) {
      await redis.restart();
      return nothingToUndo;
    },
  },
  {
    name: 'eviction',
    what: `maxmemory set ${EVICTION_HEADROOM_BYTES / 1024} KiB above what Redis holds (allkeys-lru), while another client writes 1 KiB keys (about ${(FLOOD_KEYS_PER_ROUND * 1000) / FLOOD_PAUSE_MS} a second); maxmemory lifted when the fault ends`,
    async begin({ redis }) {
      const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
      admin.on('error', () => {});
      const used = Number(/^used_memory:(\d+)/m.exec(await admin.info('memory'))?.[1]);
      if (!Number.isFinite(used)) throw new Error('INFO memory has no used_memory');
      await admin.config('SET', 'maxmemory', String(used + EVICTION_HEADROOM_BYTES));
      const stop = new AbortController();
      const flooding = floodUntilAborted(admin, stop.signal);
      return async () => {
        stop.abort();
        const flood = await flooding;
        await admin.config('SET', 'maxmemory', '0');
        await admin.quit();
        return `the flood wrote ${flood.written} keys; Redis evicted ${flood.evicted} keys (the flood's and the instances')`;
      };
    },
  },
];

// Private:

function passAgain(proxy: FaultProxy): () => Promise<FaultOutcome> {
  return async () => {
    proxy.set({ kind: 'pass' });
    return undefined;
  };
}

/** Rounds of {@link floodForeignKeys} at a steady pace, so the flood evicts without taking Redis's CPU. */
async function floodUntilAborted(redis: Redis, signal: AbortSignal): Promise<{ written: number; evicted: number }> {
  let written = 0;
  let evicted = 0;
  while (!signal.aborted) {
    const round = await floodForeignKeys(redis, { maxKeys: FLOOD_KEYS_PER_ROUND, batchSize: FLOOD_KEYS_PER_ROUND, signal });
    written += round.written;
    evicted += round.evicted;
    await sleep(FLOOD_PAUSE_MS);
  }
  return { written, evicted };
}
