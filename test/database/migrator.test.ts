import { createHash } from 'node:crypto';
import { cp, mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { applyMigrations } from '../../src/database/migrator.ts';
import { embeddedSession, openServerSession, type SqlSession } from '../../src/database/sqlSession.ts';
import { MigrationError } from '../../src/errors.ts';
import { adminDatabaseUrl, databaseUrlFor } from '../support/services.ts';

const created: string[] = [];
afterAll(async () => {
  for (const name of created) await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
});

async function admin(sql: string) {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  await client.query(sql).finally(() => client.end());
}

/** A fresh PostgreSQL database, or a fresh in-memory PGlite: the migrator must behave alike on both. */
const engines: Array<[string, () => Promise<SqlSession>]> = [
  [
    'PostgreSQL server',
    async () => {
      const name = `gqlcache_migrate_${process.pid}_${created.length}_${Date.now().toString(36)}`;
      created.push(name);
      await admin(`CREATE DATABASE "${name}"`);
      return openServerSession(databaseUrlFor(name));
    },
  ],
  ['embedded PGlite', async () => embeddedSession(await PGlite.create('memory://'))],
];

async function migrationsWith(extra?: { name: string; sql: string }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'migrations-'));
  await cp(path.resolve('prisma/migrations'), dir, { recursive: true });
  if (extra) {
    await mkdir(path.join(dir, extra.name));
    await writeFile(path.join(dir, extra.name, 'migration.sql'), extra.sql);
  }
  return dir;
}

describe.each(engines)('migrator on %s', (_, open) => {
  it('applies the project migrations once, recording them as Prisma does', async () => {
    const session = await open();
    const dir = path.resolve('prisma/migrations');
    const { readdir, readFile } = await import('node:fs/promises');
    const migrations = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect(migrations[0]).toBe('20261126000000_catalog');
    expect((await applyMigrations(session, dir)).applied).toEqual(migrations);
    expect((await applyMigrations(session, dir)).applied).toEqual([]);
    const rows = await session.query<{ migration_name: string; checksum: string; finished_at: Date | null }>('SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name');
    expect(rows.map((r) => r.migration_name)).toEqual(migrations);
    for (const row of rows) {
      const sql = await readFile(path.join(dir, row.migration_name, 'migration.sql'));
      expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
      expect(row.finished_at).not.toBeNull();
    }
    await session.close();
  });

  it('a failing migration leaves no trace: no partial DDL, no record', async () => {
    const session = await open();
    const dir = await migrationsWith({
      name: '29991231000000_broken',
      sql: 'CREATE TABLE "Half" (id INT);\nALTER TABLE "Nope" ADD COLUMN x INT;',
    });
    const error = await applyMigrations(session, dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as MigrationError).message).toMatch(/29991231000000_broken failed: .*Nope/);
    const names = await session.query<{ migration_name: string }>('SELECT migration_name FROM "_prisma_migrations"');
    expect(names.map((r) => r.migration_name)).not.toContain('29991231000000_broken');
    expect(names.map((r) => r.migration_name)).toContain('20261126000000_catalog');
    const half = await session.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'Half'`);
    expect(half[0]!.n).toBe(0);
    await session.close();
  });

  it('refuses a migration edited after it was applied', async () => {
    const session = await open();
    const dir = await migrationsWith();
    await applyMigrations(session, dir);
    await writeFile(path.join(dir, '20261126000000_catalog/migration.sql'), '-- edited\n');
    await expect(applyMigrations(session, dir)).rejects.toThrow(/was edited after it was applied/);
    await session.close();
  });
});
