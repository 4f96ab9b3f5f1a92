import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { MigrationError } from '../errors.ts';
import type { SqlSession } from './sqlSession.ts';

/**
 * Applies Prisma's migrations folder the way `prisma migrate deploy` does, without Prisma's native
 * schema engine (which the CLI downloads, and which cannot be fetched offline). It keeps Prisma's
 * bookkeeping exactly: the same `_prisma_migrations` table, checksums (sha256 of migration.sql) and
 * advisory lock id, so either tool can take over a database the other migrated.
 *
 * Each migration runs in one transaction together with its `_prisma_migrations` row: it is applied
 * and recorded, or neither.
 */
export async function applyMigrations(session: SqlSession, migrationsDir: string, onApplied: (migration: string) => void = () => {}): Promise<{ applied: string[] }> {
  await session.exec(MIGRATIONS_TABLE);
  // Two instances starting together must not both apply the same migration.
  await session.query('SELECT pg_advisory_lock($1)', [PRISMA_ADVISORY_LOCK_ID]);
  try {
    const recorded = await session.query<MigrationRow>('SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations"');
    const done = new Map<string, MigrationRow>();
    for (const row of recorded) {
      if (row.rolled_back_at !== null) continue;
      if (row.finished_at === null) {
        throw new MigrationError(row.migration_name, 'is recorded as started but not finished (a failed `prisma migrate deploy`); fix the database, then mark it with `prisma migrate resolve`');
      }
      done.set(row.migration_name, row);
    }

    const applied: string[] = [];
    for (const migration of await readMigrations(migrationsDir)) {
      const previous = done.get(migration.name);
      if (previous) {
        if (previous.checksum !== migration.checksum) {
          throw new MigrationError(migration.name, 'was edited after it was applied (checksum differs)');
        }
        continue;
      }
      await applyOne(session, migration);
      onApplied(migration.name);
      applied.push(migration.name);
    }
    return { applied };
  } finally {
    await session.query('SELECT pg_advisory_unlock($1)', [PRISMA_ADVISORY_LOCK_ID]);
  }
}

// Private:

/** The lock id Prisma's schema engine takes, so this and `prisma migrate` exclude each other. */
const PRISMA_ADVISORY_LOCK_ID = 72707369;

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

async function readMigrations(dir: string): Promise<Migration[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  // Prisma orders migrations by folder name, which starts with a timestamp.
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const migrations: Migration[] = [];
  for (const name of names) {
    const sql = await readFile(path.join(dir, name, 'migration.sql'), 'utf8');
    migrations.push({ name, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return migrations;
}

async function applyOne(session: SqlSession, migration: Migration): Promise<void> {
  await session.exec('BEGIN');
  try {
    await session.exec(migration.sql);
    await session.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), now(), 1)`,
      [randomUUID(), migration.checksum, migration.name],
    );
    await session.exec('COMMIT');
  } catch (error) {
    await session.exec('ROLLBACK').catch(() => {});
    throw new MigrationError(migration.name, error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
}
