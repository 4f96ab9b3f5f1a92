import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { floodForeignKeys } from './evictionFlood.ts';
import type { FaultProxy } from './faultProxy.ts';
import type { SeededRandom } from './seededRandom.ts';
import type { ThrowawayRedis } from './throwawayRedis.ts';

/**
 * What can go wrong with the shared Redis, as the app sees it:
 * - `delay`, `hang`, `drop`, `reset`: the proxy's modes (see FaultMode), for the fault's duration;
 * - `restart`: the server is killed and started again at once, empty (every key lost);
 * - `evict`: another client floods the server with keys of its own, so that `maxmemory` evicts the
 *   app's (needs a server started with a small maxmemory and an `allkeys-*` policy).
 */
export type Fault = 'delay' | 'hang' | 'drop' | 'reset' | 'restart' | 'evict';

export const FAULTS: readonly Fault[] = ['delay', 'hang', 'drop', 'reset', 'restart', 'evict'];

export interface FaultScheduleOptions {
  /** Between the app and `redis`: every app connection must go through it. */
  proxy: FaultProxy;
  redis: ThrowawayRedis;
  /** A connection straight to `redis`, not through the proxy: the eviction flood's. */
  direct: Redis;
  /** Draws the order of the faults and each period's length. */
  random: SeededRandom;
  /** The faults, each applied once, in a random order. @default FAULTS */
  faults?: readonly Fault[];
  /** Bounds of each fault's duration, ms. @default [1000, 2000] */
  faultMs?: readonly [number, number];
  /** Bounds of the pass period after each fault, ms. @default [800, 1200] */
  passMs?: readonly [number, number];
  /** How long the first pass period lasts, before any fault, ms. @default 1000 */
  warmUpMs?: number;
  /** The proxy's delay during `delay`, each way, ms. @default 100 */
  delayMs?: number;
}

/** One period of the schedule, on the clock of performance.now(). */
export interface PhaseRecord {
  readonly name: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** What the fault did, when there is something to say (the flood's counts, the restart's time). */
  readonly note?: string;
}

/**
 * Applies each fault once, for a random period, with a pass period after each, and names the
 * current period (`warm-up`, `hang`, `after hang`, ...) so that a test can tell in which one each of
 * its requests was sent. The proxy passes again when {@link run} resolves.
 */
export class FaultSchedule {
  readonly phases: PhaseRecord[] = [];
  /** The faults in the order this schedule applies them. */
  readonly order: readonly Fault[];
  private current = 'warm-up';

  constructor(private readonly options: FaultScheduleOptions) {
    this.order = options.random.shuffled(options.faults ?? FAULTS);
  }

  /** The period now. */
  get phase(): string {
    return this.current;
  }

  async run(): Promise<void> {
    const { random, warmUpMs = 1000, faultMs = [1000, 2000], passMs = [800, 1200] } = this.options;
    await this.period('warm-up', async () => {
      await sleep(warmUpMs);
      return undefined;
    });
    for (const fault of this.order) {
      const ms = Math.round(random.between(faultMs[0], faultMs[1]));
      await this.period(fault, () => this.apply(fault, ms));
      const pass = Math.round(random.between(passMs[0], passMs[1]));
      await this.period(`after ${fault}`, async () => {
        await sleep(pass);
        return undefined;
      });
    }
  }

  // Private:

  private async period(name: string, body: () => Promise<string | undefined>): Promise<void> {
    this.current = name;
    const startedAt = performance.now();
    const note = await body();
    this.phases.push({ name, startedAt, endedAt: performance.now(), ...(note ? { note } : {}) });
  }

  /** Applies `fault` for `ms`, then lets the proxy pass; resolves to a note on what it did. */
  private async apply(fault: Fault, ms: number): Promise<string | undefined> {
    const { proxy, redis, direct, delayMs = 100 } = this.options;
    switch (fault) {
      case 'delay':
      case 'hang':
      case 'drop':
      case 'reset':
        proxy.set(fault === 'delay' ? { kind: 'delay', ms: delayMs } : { kind: fault });
        await sleep(ms);
        proxy.set({ kind: 'pass' });
        return fault === 'delay' ? `${delayMs} ms each way, ${ms} ms` : `${ms} ms`;
      case 'restart': {
        const started = performance.now();
        await redis.restart();
        const restartMs = performance.now() - started;
        await sleep(Math.max(0, ms - restartMs));
        return `down ${restartMs.toFixed(0)} ms, empty after`;
      }
      case 'evict': {
        const stop = new AbortController();
        // 4 KiB values: a loaded machine manages few round trips in a second, and 4mb must fill in it.
        const flooding = floodForeignKeys(direct, { prefix: 'chaos-flood:', valueBytes: 4096, signal: stop.signal, maxMs: ms + 1000 }).then(
          (result) => `${result.written} keys written, ${result.evicted} evicted in ${ms} ms`,
          (error: unknown) => `flood failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        await sleep(ms);
        stop.abort();
        return flooding;
      }
      default:
        return unreachable(fault);
    }
  }
}

function unreachable(value: never): never {
  throw new Error(`unreachable fault: ${JSON.stringify(value)}`);
}
