import { spawnSync } from 'node:child_process';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { openServerSession } from '../../src/database/sqlSession.ts';
import { applyMigrations } from '../../src/database/migrator.ts';
import { databaseUrlFor, runAsAdmin, SEEDED_PRODUCTS } from './services.ts';

/** Creates this run's database, migrates it and seeds it through `prisma db seed`; drops it after. */
export default async function setup(project: TestProject) {
  const runId = `${process.pid}_${Date.now().toString(36)}`;
  const name = `gqlcache_test_${runId}`;
  await runAsAdmin(`CREATE DATABASE "${name}"`);
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
    await runAsAdmin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
}
