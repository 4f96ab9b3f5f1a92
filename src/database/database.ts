import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { PrismaClient } from '../generated/prisma/client.ts';
import type { Config } from '../config/config.ts';
import { embeddedSession, openServerSession, type SqlSession } from './sqlSession.ts';

export type Prisma = PrismaClient<'query'>;

/** The catalog database, reached only through a Prisma driver adapter. */
export interface Database {
  readonly prisma: Prisma;
  /** `postgres` for a server at DATABASE_URL, `embedded` for PGlite in a local directory. */
  readonly kind: 'postgres' | 'embedded';
  /** SQL statements Prisma has sent since start: what the no-N+1 tests and the bench count. */
  readonly statementCount: () => number;
  /** A session for scripts (migrations); close it when done. */
  openSession(): Promise<SqlSession>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Where the database is; the server passes its Config, whose timeouts bound every call (scripts may leave them out). */
export type DatabaseOptions = Pick<Config, 'databaseUrl' | 'pgliteDataDir'> & Partial<Pick<Config, 'databaseConnectTimeoutMs' | 'databaseQueryTimeoutMs'>>;

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.databaseUrl !== undefined) {
    const url = options.databaseUrl;
    // Every call bounded: a connection that cannot be made, and a statement that gets no answer, fail
    // (database/databaseErrors.ts makes them a 503) instead of holding the request.
    const adapter = new PrismaPg({
      connectionString: url,
      ...(options.databaseConnectTimeoutMs ? { connectionTimeoutMillis: options.databaseConnectTimeoutMs } : {}),
      ...(options.databaseQueryTimeoutMs ? { query_timeout: options.databaseQueryTimeoutMs } : {}),
    });
    return wrap(new PrismaClient({ adapter, log: QUERY_EVENTS }), 'postgres', {
      openSession: () => openServerSession(url),
      closeEngine: async () => {},
    });
  }
  await mkdir(options.pgliteDataDir, { recursive: true });
  const embedded = await PGlite.create(options.pgliteDataDir);
  return wrap(new PrismaClient({ adapter: new PrismaPGlite(embedded), log: QUERY_EVENTS }), 'embedded', {
    openSession: async () => embeddedSession(embedded),
    closeEngine: () => embedded.close(),
  });
}

// Private:

// Query events feed statementCount.
const QUERY_EVENTS: [{ emit: 'event'; level: 'query' }] = [{ emit: 'event', level: 'query' }];

function wrap(prisma: Prisma, kind: Database['kind'], engine: { openSession: () => Promise<SqlSession>; closeEngine: () => Promise<void> }): Database {
  let statements = 0;
  prisma.$on('query', () => {
    statements += 1;
  });
  return {
    prisma,
    kind,
    statementCount: () => statements,
    openSession: engine.openSession,
    async ping() {
      await prisma.$queryRaw`SELECT 1`;
    },
    async close() {
      await prisma.$disconnect();
      await engine.closeEngine();
    },
  };
}
