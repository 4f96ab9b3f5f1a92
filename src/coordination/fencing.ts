import type { Prisma } from '../database/database.ts';
import { StaleFencingTokenError } from '../errors.ts';

/** What a fenced write runs on: the transaction of the guarded write (or, outside one, the client). */
export type SqlWriter = Pick<Prisma, '$executeRaw'>;

/**
 * The writer's side of a lock's fencing tokens (see LockLease.fencingToken): records `token` as the
 * highest seen for `lock` in "lock_fences", or throws StaleFencingTokenError if a higher one is there.
 * An equal token passes: one holder may write several times.
 *
 * Call it first inside the transaction of the guarded write. The fence row stays locked until that
 * transaction ends, so a stale writer racing the new holder waits, then is refused; a refused write
 * rolls back whole, and a rolled-back one leaves the fence as it was.
 */
export async function admitFencingToken(sql: SqlWriter, lock: string, token: number): Promise<void> {
  const admitted = await sql.$executeRaw`
    INSERT INTO "lock_fences" ("name", "token") VALUES (${lock}, ${BigInt(token)})
    ON CONFLICT ("name") DO UPDATE SET "token" = EXCLUDED."token" WHERE "lock_fences"."token" <= EXCLUDED."token"`;
  if (admitted === 0) throw new StaleFencingTokenError(lock, token);
}
