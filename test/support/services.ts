import pg from 'pg';
import { inject } from 'vitest';
import type { ServerServices } from './serverEnvironment.ts';
import { TEST_TOKEN_SECRET } from './tokens.ts';

/**
 * Where the real services are. The defaults are this machine's (and docker-compose's) services; set
 * TEST_DATABASE_URL / TEST_REDIS_URL to point elsewhere. Each run makes its own database on that
 * server and its own Redis key prefix, so runs never see each other's data.
 */
export const adminDatabaseUrl = process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/postgres';

export const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The same server as `adminDatabaseUrl`, another database on it. */
export function databaseUrlFor(name: string): string {
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one statement (CREATE or DROP DATABASE) on the server of `adminDatabaseUrl`, on a connection of its own. */
export async function runAsAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export const SEEDED_PRODUCTS = 200;

/** What a server under test runs on: the run's database, the Redis, the tests' token secret. Inside a test file only. */
export function testServices(): ServerServices {
  return { databaseUrl: inject('databaseUrl'), redisUrl, authTokenSecret: TEST_TOKEN_SECRET };
}

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    runId: string;
  }
}
