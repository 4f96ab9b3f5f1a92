import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitFencingToken } from '../../src/coordination/fencing.ts';
import type { Database } from '../../src/database/database.ts';
import { StaleFencingTokenError } from '../../src/errors.ts';
import { createProducts, openRunDatabase } from '../views/viewFixtures.ts';

describe('admitFencingToken', () => {
  let db: Database;

  beforeAll(async () => {
    db = await openRunDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  /** Renames `product` in a transaction fenced by `token`; the error code if refused. */
  async function fencedRename(lock: string, token: number, product: number, name: string): Promise<string | undefined> {
    try {
      await db.prisma.$transaction(async (tx) => {
        await admitFencingToken(tx, lock, token);
        await tx.product.update({ where: { id: product }, data: { name } });
      });
      return undefined;
    } catch (error) {
      if (error instanceof StaleFencingTokenError) return error.code;
      throw error;
    }
  }
  const nameOf = async (id: number) => (await db.prisma.product.findUniqueOrThrow({ where: { id } })).name;

  it('admits the first token, a higher one and the same one again; refuses a lower one, and its write rolls back', async () => {
    const lock = `fence-${randomUUID()}`;
    const [product] = (await createProducts(db.prisma, 1)) as [number];

    expect(await fencedRename(lock, 5, product, 'by 5')).toBeUndefined();
    expect(await fencedRename(lock, 7, product, 'by 7')).toBeUndefined();
    expect(await fencedRename(lock, 7, product, 'by 7 again')).toBeUndefined();
    expect(await fencedRename(lock, 6, product, 'by 6')).toBe('FENCING_TOKEN_STALE');

    expect(await nameOf(product)).toBe('by 7 again');
  });

  it('leaves the fence as it was when the guarded write fails', async () => {
    const lock = `fence-${randomUUID()}`;
    const [product] = (await createProducts(db.prisma, 1)) as [number];
    await expect(
      db.prisma.$transaction(async (tx) => {
        await admitFencingToken(tx, lock, 9);
        throw new Error('the guarded write failed');
      }),
    ).rejects.toThrow('the guarded write failed');

    expect(await fencedRename(lock, 8, product, 'by 8')).toBeUndefined();
  });

  it('holds tokens as large as the clock-floored ones the lock issues', async () => {
    const lock = `fence-${randomUUID()}`;
    const [product] = (await createProducts(db.prisma, 1)) as [number];
    const token = Date.now() * 1000 + 123;
    expect(await fencedRename(lock, token, product, 'by a clock token')).toBeUndefined();
    expect(await fencedRename(lock, token - 1, product, 'by one less')).toBe('FENCING_TOKEN_STALE');
  });
});
