// A lock holder as a process of its own, for tests that pause it for real (SIGSTOP) past its TTL.
// It takes LOCK_NAME for LOCK_TTL_MS, prints {"event":"holding","token":n}, and on the line "write"
// on stdin renames PRODUCT_ID to "written by <token>" in a transaction fenced by its token. When
// withLock settles it prints {"event":"settled", ...} with the error codes, if any, and exits.
import { createInterface } from 'node:readline';
import { createRedisClient } from '../../src/cache/tiers/redisClient.ts';
import { admitFencingToken } from '../../src/coordination/fencing.ts';
import { Locks } from '../../src/coordination/lock.ts';
import { openDatabase } from '../../src/database/database.ts';

const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const lockName = env('LOCK_NAME');
const productId = Number(env('PRODUCT_ID'));

const redis = createRedisClient({ url: env('REDIS_URL'), commandTimeoutMs: 1000 });
redis.on('error', () => {});
const db = await openDatabase({ databaseUrl: env('DATABASE_URL'), pgliteDataDir: '' });
const locks = new Locks({ redis: await ready(redis), prefix: env('PREFIX'), acquireWaitMs: 0, commandTimeoutMs: 1000 });
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

try {
  await locks.withLock(lockName, Number(env('LOCK_TTL_MS')), async (lease) => {
    say({ event: 'holding', token: lease.fencingToken });
    await lines.next();
    // A paused process does not look at its signal before it carries on: the fence is what stops it.
    await db.prisma.$transaction(async (tx) => {
      await admitFencingToken(tx, lockName, lease.fencingToken);
      await tx.product.update({ where: { id: productId }, data: { name: `written by ${lease.fencingToken}` } });
    });
  });
  say({ event: 'settled' });
} catch (error) {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  say({ event: 'settled', code, causeCode: cause?.code });
} finally {
  redis.disconnect();
  await db.close();
  process.exit(0);
}

async function ready<T extends { status: string; once(event: 'ready', listener: () => void): unknown }>(client: T): Promise<T> {
  if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', resolve));
  return client;
}
