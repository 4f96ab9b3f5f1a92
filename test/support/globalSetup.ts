import { spawnSync } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { openServerSession } from '../../src/database/sqlSession.ts';
import { applyMigrations } from '../../src/database/migrator.ts';
import { adminDatabaseUrl, databaseUrlFor, SEEDED_PRODUCTS } from './services.ts';

/** Creates this run's database, migrates it and seeds it through `prisma db seed`; drops it after. */
export default async function setup(project: TestProject) {
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const name = `gqlcache_test_${runId}`;
  await admin(`CREATE DATABASE "${name}"`);
  const databaseUrl = databaseUrlFor(name);

  const session = await openServerSession(databaseUrl);
  try {
    await applyMigrations(session, path.resolve('prisma/migrations'));
  } finally {
    await session.close();
  }
  const seed = spawnSync(process.execPath, ['scripts/prisma.mjs', 'db', 'seed'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, SEED_PRODUCTS: String(SEEDED_PRODUCTS) },
    encoding: 'utf8',
  });
  if (seed.status !== 0) throw new Error(`prisma db seed failed:\n${seed.stdout}\n${seed.stderr}`);

  project.provide('databaseUrl', databaseUrl);
  project.provide('runId', runId);
  return async () => {
    await admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
