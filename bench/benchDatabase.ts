import path from 'node:path';
import pg from 'pg';
import { openDatabase } from '../src/database/database.ts';
import { applyMigrations } from '../src/database/migrator.ts';
import { seedCatalog } from '../src/database/seedCatalog.ts';
import { openServerSession } from '../src/database/sqlSession.ts';

/** A database the bench created for itself on a shared PostgreSQL server, so it never touches anyone's data. */
export interface BenchDatabase {
  name: string;
  /** The URL the servers under test get as DATABASE_URL. */
  url: string;
  drop(): Promise<void>;
}

const MIGRATIONS_DIR = path.resolve(import.meta.dirname, '../prisma/migrations');

/**
 * Creates `gqlcache_bench_<pid>` on the server at `serverUrl`. Fails, rather than reuses or drops,
 * if that name exists: it may be another run's.
 */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `gqlcache_bench_${process.pid}`;
  await withAdminClient(serverUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE ends sessions still open (e.g. of a server that was killed), which would block the drop.
    async drop() {
      await withAdminClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

/** Migrates and seeds the catalog the same way `npm run db:migrate` and `npm run db:seed` do. */
export async function prepareCatalog(databaseUrl: string, products: number): Promise<void> {
  const session = await openServerSession(databaseUrl);
  try {
    await applyMigrations(session, MIGRATIONS_DIR);
  } finally {
    await session.close();
  }
  // pgliteDataDir is only read when databaseUrl is unset.
  const database = await openDatabase({ databaseUrl, pgliteDataDir: '' });
  try {
    await seedCatalog(database.prisma, { products });
  } finally {
    await database.close();
  }
}

async function withAdminClient<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
