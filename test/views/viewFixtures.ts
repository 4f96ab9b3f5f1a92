import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { pino, type Logger } from 'pino';
import { afterAll, beforeAll, inject } from 'vitest';
import { openDatabase, type Database, type Prisma } from '../../src/database/database.ts';
import type { ViewKeys } from '../../src/views/viewKeys.ts';
import { redisUrl } from '../support/services.ts';
import { deletePrefix } from '../support/testApp.ts';

/** The run's database (migrated and seeded by globalSetup). */
export function openRunDatabase(): Promise<Database> {
  return openDatabase({ databaseUrl: inject('databaseUrl'), pgliteDataDir: '' });
}

/**
 * A category of this test's own with `count` products, so counting views never touches rows that
 * other test files (running in parallel on the same database) read.
 */
export async function createProducts(prisma: Prisma, count: number): Promise<number[]> {
  const tag = randomUUID().slice(0, 8);
  const category = await prisma.category.create({ data: { name: `views ${tag}`, slug: `views-${tag}` } });
  const ids: number[] = [];
  for (let i = 0; i < count; i++) {
    const product = await prisma.product.create({
      data: { sku: `VIEWS-${tag}-${i}`, name: `Viewed ${i}`, description: '', priceCents: 100, stock: 1, categoryId: category.id },
    });
    ids.push(product.id);
  }
  return ids;
}

/** viewCount and version of each product, in the order asked. */
export async function rowsOf(prisma: Prisma, ids: readonly number[]): Promise<Array<{ viewCount: number; version: number }>> {
  const rows = await prisma.product.findMany({ where: { id: { in: [...ids] } }, select: { id: true, viewCount: true, version: true } });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => {
    const row = byId.get(id);
    if (!row) throw new Error(`product ${id} not found`);
    return { viewCount: row.viewCount, version: row.version };
  });
}

export async function viewCountsOf(prisma: Prisma, ids: readonly number[]): Promise<number[]> {
  return (await rowsOf(prisma, ids)).map((row) => row.viewCount);
}

/** A plain client on the shared Redis, for the components and for inspecting their keys. */
export function sharedRedis(): Redis {
  return new Redis(redisUrl);
}

/**
 * For the enclosing describe: the run's database and a client on the shared Redis, set before its
 * tests, and a list for the processes they start. After them, a process still running is SIGKILLed
 * (a test that failed mid-way must not leave one behind), and the keys under `prefix` are deleted.
 */
export function useRunDatabaseAndRedis(prefix: string): { db: Database; redis: Redis; children: ChildProcess[] } {
  const run = { children: [] as ChildProcess[] } as { db: Database; redis: Redis; children: ChildProcess[] };
  beforeAll(async () => {
    run.db = await openRunDatabase();
    run.redis = sharedRedis();
  });
  afterAll(async () => {
    for (const child of run.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    run.redis.disconnect();
    await deletePrefix(prefix);
    await run.db.close();
  });
  return run;
}

/** Stream length, entries still pending in the group, and the pending-count hash. */
export async function bufferState(redis: Redis, keys: ViewKeys): Promise<{ stream: number; unacked: number; pending: Record<string, string> }> {
  const [stream, summary, pending] = await Promise.all([redis.xlen(keys.stream), redis.xpending(keys.stream, 'flushers').catch(() => [0]), redis.hgetall(keys.pending)]);
  return { stream, unacked: Number((summary as unknown[])[0] ?? 0), pending };
}

/** A logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: Array<{ msg: string; level: number }> } {
  const lines: Array<{ msg: string; level: number }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    }),
  );
  return { logger, lines };
}
