import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, inject, it } from 'vitest';
import { ViewCounter } from '../../src/views/viewCounter.ts';
import { VIEW_FLUSHERS_GROUP, viewKeys } from '../../src/views/viewKeys.ts';
import { redisUrl } from '../support/services.ts';
import { uniquePrefix } from '../support/testApp.ts';
import { bufferState, capturingLogger, createProducts, useRunDatabaseAndRedis } from './viewFixtures.ts';

const VIEWS = 2000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The real thing: the flusher runs as its own process (src/views/flusherMain.ts) and is SIGKILLed
 * mid-flush while views keep arriving, first between committing a batch and acking it, then before
 * committing one. Each restart, under a new consumer name, takes the dead one's batch over: applying
 * the committed one again must add nothing, the other must be applied. The database ends at exactly
 * the number of views recorded.
 */
describe('a flusher process killed mid-flush', () => {
  const prefix = uniquePrefix();
  const keys = viewKeys(prefix);

  const run = useRunDatabaseAndRedis(prefix);

  /** Starts flusherMain and resolves, once it is flushing, with the process and its consumer name. */
  async function startFlusher(): Promise<{ child: ChildProcess; consumer: string; exited: Promise<unknown> }> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/views/flusherMain.ts'], {
      env: {
        ...process.env,
        DATABASE_URL: inject('databaseUrl'),
        REDIS_URL: redisUrl,
        CACHE_PREFIX: prefix,
        VIEW_FLUSH_BATCH_SIZE: '10',
        VIEW_FLUSH_INTERVAL_MS: '10',
        // Short, so a restart takes the dead consumer's batch over quickly.
        VIEW_FLUSH_CLAIM_IDLE_MS: '300',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    run.children.push(child);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    const consumer = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        const entry = JSON.parse(line) as { msg: string; consumer?: string };
        if (entry.msg === 'flushing views' && entry.consumer) resolve(entry.consumer);
      });
      void exited.then(() => reject(new Error(`flusherMain exited before flushing:\n${stderr}`)));
    });
    return { child, consumer, exited };
  }

  let ids: number[] = [];
  const storedViews = async () => (await run.db.prisma.product.aggregate({ where: { id: { in: ids } }, _sum: { viewCount: true } }))._sum.viewCount ?? 0;

  /** Of the entries pending on `consumer`, how many are in the database already (committed, not acked). */
  async function committedNotAcked(consumer: string): Promise<number> {
    const pending = (await run.redis.xpending(keys.stream, VIEW_FLUSHERS_GROUP, '-', '+', 1000, consumer)) as [string, ...unknown[]][];
    const entries = await Promise.all(pending.map(([id]) => run.redis.xrange(keys.stream, id, id)));
    const eventIds = entries.map((entry) => entry[0]?.[1][3]).filter((id): id is string => id !== undefined);
    return run.db.prisma.viewEvent.count({ where: { eventId: { in: eventIds } } });
  }

  /** Entries delivered to each consumer and not acked yet; none before the first flusher made the group. */
  async function unackedByConsumer(): Promise<Map<string, number>> {
    const summary = (await run.redis.xpending(keys.stream, VIEW_FLUSHERS_GROUP).catch((error: Error) => {
      if (error.message.startsWith('NOGROUP')) return [0, null, null, null];
      throw error;
    })) as [number, string, string, [string, string][] | null];
    return new Map((summary[3] ?? []).map(([consumer, count]) => [consumer, Number(count)]));
  }

  /**
   * SIGKILLs the flusher at a moment when it holds a batch that `when` accepts. Each try freezes the
   * process (SIGSTOP), so its state can be read without racing it, and lets it run on if not.
   */
  async function killWhen(flusher: { child: ChildProcess; consumer: string; exited: Promise<unknown> }, when: (batch: { held: number; committed: number }) => boolean): Promise<void> {
    // Left alone until it has committed a batch: a process that is still warming up holds none.
    const floor = await storedViews();
    await expect.poll(storedViews, { timeout: 15_000, interval: 5 }).toBeGreaterThan(floor);
    for (let tries = 0; ; tries++) {
      expect(tries, 'no try found the flusher in the wanted state').toBeLessThan(1000);
      flusher.child.kill('SIGSTOP');
      // A statement the process sent before it froze completes in the database meanwhile.
      await sleep(5);
      const held = (await unackedByConsumer()).get(flusher.consumer) ?? 0;
      const committed = held > 0 ? await committedNotAcked(flusher.consumer) : 0;
      const stored = await storedViews();
      if (held > 0 && stored > 0 && stored < VIEWS && when({ held, committed })) {
        flusher.child.kill('SIGKILL');
        await flusher.exited;
        return;
      }
      flusher.child.kill('SIGCONT');
      // Varied, so the next freeze lands at another point of its cycle.
      await sleep(tries % 7);
    }
  }

  // Each flusher process takes a second or two to start, more on a busy machine.
  it('ends with viewCount risen by exactly the views recorded', { timeout: 60_000 }, async () => {
    ids = await createProducts(run.db.prisma, 3);
    const { logger } = capturingLogger();
    const counter = new ViewCounter({ redis: run.redis, prefix, prisma: run.db.prisma, logger });

    let flusher = await startFlusher();
    // Views keep arriving, in small concurrent bursts, across the kills and restarts.
    const producing = (async () => {
      for (let sent = 0; sent < VIEWS; sent += 40) {
        const via = await Promise.all(Array.from({ length: 40 }, (_, i) => counter.record(ids[(sent + i) % 3] as number)));
        expect(via.every((v) => v === 'buffered')).toBe(true);
        await sleep(10);
      }
    })();

    // First killed in the narrowest window: its batch committed to the database, not yet acked in
    // Redis. Then, restarted, killed holding a batch it has not committed. Views keep arriving.
    await killWhen(flusher, (batch) => batch.committed > 0);
    flusher = await startFlusher();
    await killWhen(flusher, (batch) => batch.committed === 0);
    // A new name each time: the dead consumers' batches are taken over through XAUTOCLAIM.
    flusher = await startFlusher();

    await producing;
    await expect.poll(async () => bufferState(run.redis, keys), { timeout: 15_000, interval: 100 }).toEqual({ stream: 0, unacked: 0, pending: {} });
    expect(await storedViews()).toBe(VIEWS);

    // A graceful stop of the last one exits cleanly.
    flusher.child.kill('SIGTERM');
    expect(await flusher.exited).toBe(0);
    expect(await storedViews()).toBe(VIEWS);
  });
});
