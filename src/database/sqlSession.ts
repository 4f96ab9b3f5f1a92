import pg from 'pg';
import type { PGlite } from '@electric-sql/pglite';

/**
 * One database session for the work Prisma Client does not do: applying migration scripts and
 * creating or dropping whole databases. Both engines (a PostgreSQL server, embedded PGlite) offer it.
 */
export interface SqlSession {
  /** Runs a script of one or more statements in a single simple-protocol call. */
  exec(script: string): Promise<void>;
  /** Runs one parameterised statement and returns its rows. */
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

/** A dedicated connection to a PostgreSQL server (not from a pool: a lock and a transaction must share it). */
export async function openServerSession(connectionString: string): Promise<SqlSession> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  return {
    async exec(script) {
      await client.query(script);
    },
    async query<Row>(sql: string, params: unknown[] = []) {
      const result = await client.query(sql, params);
      return result.rows as Row[];
    },
    close: () => client.end(),
  };
}

/** The embedded database has one connection; closing the session leaves it open for Prisma. */
export function embeddedSession(db: PGlite): SqlSession {
  return {
    async exec(script) {
      // Awaited on purpose: an unawaited exec would let a broken migration be recorded as applied.
      await db.exec(script);
    },
    async query<Row>(sql: string, params: unknown[] = []) {
      const result = await db.query<Row>(sql, params);
      return result.rows;
    },
    close: async () => {},
  };
}
