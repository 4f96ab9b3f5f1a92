import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, inject, it } from 'vitest';
import { admitFencingToken } from '../../src/coordination/fencing.ts';
import { Locks, lockKeys } from '../../src/coordination/lock.ts';
import { redisUrl } from '../support/services.ts';
import { uniquePrefix } from '../support/testApp.ts';
import { createProducts, useRunDatabaseAndRedis } from '../views/viewFixtures.ts';

/**
 * A holder paused for real (SIGSTOP) longer than its lock's TTL: its lock expires and another
 * process takes it. When it wakes (SIGCONT) it carries on as if it still held the lock; the release
 * must not delete the new holder's lock, and its write must be refused by the fencing token.
 */
describe('a lock holder paused past its TTL', () => {
  const prefix = uniquePrefix();

  const run = useRunDatabaseAndRedis(prefix);

  /** Starts lockHolder.ts; `next()` resolves to each JSON line it prints, in order. */
  function startHolder(lockName: string, productId: number) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/coordination/lockHolder.ts'], {
      env: { ...process.env, REDIS_URL: redisUrl, DATABASE_URL: inject('databaseUrl'), PREFIX: prefix, LOCK_NAME: lockName, LOCK_TTL_MS: '1000', PRODUCT_ID: String(productId) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    run.children.push(child);
    let stderr = '';
    child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    const next = async () => {
      const line = await Promise.race([lines.next(), exited.then(() => ({ done: true, value: '' }))]);
      if (line.done) throw new Error(`lockHolder exited:\n${stderr}`);
      return JSON.parse(line.value) as { event: string; token?: number; code?: string; causeCode?: string };
    };
    return { child, next, exited };
  }

  // A process start takes a second or two, more on a busy machine.
  it('cannot release the new holder’s lock, and its write with the old token is refused', { timeout: 60_000 }, async () => {
    const name = `paused-${prefix.replace(/\W/g, '')}`;
    const { lock } = lockKeys(prefix, name);
    const [product] = (await createProducts(run.db.prisma, 1)) as [number];
    const holder = startHolder(name, product);
    const held = await holder.next();
    expect(held.event).toBe('holding');

    // Paused: its renewals stop, and the lock expires in Redis.
    holder.child.kill('SIGSTOP');
    await expect.poll(() => run.redis.exists(lock), { timeout: 10_000, interval: 50 }).toBe(0);

    const locks = new Locks({ redis: run.redis, prefix, acquireWaitMs: 0 });
    await locks.withLock(name, 10_000, async (lease) => {
      expect(lease.fencingToken).toBeGreaterThan(held.token!);
      const mine = await run.redis.get(lock);
      // The new holder writes, fenced by its token.
      await run.db.prisma.$transaction(async (tx) => {
        await admitFencingToken(tx, name, lease.fencingToken);
        await tx.product.update({ where: { id: product }, data: { name: 'written by the new holder' } });
      });

      // The old holder wakes, writes with its old token and releases.
      holder.child.kill('SIGCONT');
      holder.child.stdin.write('write\n');
      const settled = await holder.next();

      // (1) Its release left the new holder's lock alone.
      expect(await run.redis.get(lock)).toBe(mine);
      // (2) Its write was refused; it is told it lost the lock.
      expect(settled).toEqual({ event: 'settled', code: 'LOCK_LOST', causeCode: 'FENCING_TOKEN_STALE' });
      expect((await run.db.prisma.product.findUniqueOrThrow({ where: { id: product } })).name).toBe('written by the new holder');
    });
    // The new holder's own release went through: it still held the lock.
    expect(await run.redis.exists(lock)).toBe(0);
    await holder.exited;
  });
});
