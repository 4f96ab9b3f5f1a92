import { DatabaseUnavailableError } from '../errors.ts';
import { Prisma as PrismaNamespace } from '../generated/prisma/client.ts';

/** Why the database cannot be used; `unsent` when the failure came before any statement reached it (so nothing was written). */
export interface Unavailability {
  readonly reason: string;
  readonly unsent: boolean;
}

/**
 * Runs one database call and turns a failure that means "the database cannot be used right now"
 * into a {@link DatabaseUnavailableError} (the driver's error kept as its `cause`), with `wrote`
 * when the caller knows it. Any other failure (a constraint, a bug) is thrown as it is.
 */
export async function reportingUnavailable<T>(call: () => Promise<T>, wrote?: 'nothing'): Promise<T> {
  try {
    return await call();
  } catch (error) {
    const unavailable = unavailability(error);
    throw unavailable === undefined ? error : new DatabaseUnavailableError(unavailable.reason, { cause: error, ...(wrote ? { wrote } : {}) });
  }
}

/**
 * {@link reportingUnavailable} for a write of one statement (its own transaction): a statement
 * never sent wrote nothing; one whose connection broke under it may have committed (`unknown`).
 */
export async function reportingUnavailableWrite<T>(statement: () => Promise<T>): Promise<T> {
  try {
    return await statement();
  } catch (error) {
    const unavailable = unavailability(error);
    throw unavailable === undefined ? error : new DatabaseUnavailableError(unavailable.reason, { cause: error, wrote: unavailable.unsent ? 'nothing' : 'unknown' });
  }
}

/**
 * Why an error thrown by Prisma over the pg adapter means the database cannot be used, or
 * undefined when it means something else. Pure. What the adapter throws, as observed (Prisma 7.10,
 * @prisma/adapter-pg 7.10):
 *
 * - a refused or unresolvable host: P1001 (P2010 from a raw query) with the adapter's
 *   `DatabaseNotReachable` in `meta.driverAdapterError`;
 * - a reset connection, a socket timeout, too many connections, an unusable TLS, a rejected login
 *   or a missing database: the adapter's kinds below, under the same `meta`;
 * - a connection attempt that times out (pg's `connectionTimeoutMillis`), or one the server drops
 *   mid-query: pg's own plain Error, which the adapter passes on unconverted;
 * - a transaction that cannot start, or expires, in time: P2028;
 * - a PostgreSQL error of class 08 (connection exception) or 57P0x (shutting down, starting up).
 *
 * A rejected login or a missing database is a misconfiguration rather than an outage, but to a
 * client it is the same: the service cannot answer now, and the operator has the log.
 */
export function unavailability(error: unknown): Unavailability | undefined {
  if (error instanceof PrismaNamespace.PrismaClientKnownRequestError) {
    const kind = adapterErrorKind(error.meta);
    if (kind !== undefined) {
      if (ADAPTER_KINDS.has(kind.kind)) return { reason: kind.kind, unsent: !MIDWAY_ADAPTER_KINDS.has(kind.kind) };
      const postgres = postgresUnavailability(kind);
      return postgres === undefined ? undefined : { reason: postgres, unsent: false };
    }
    const reason = PRISMA_CODES[error.code];
    if (reason === undefined) return undefined;
    // P2028 is also a transaction that expired midway; only one that could not start sent nothing.
    const unsent = error.code === 'P2028' ? /unable to start/i.test(error.message) : !MIDWAY_PRISMA_CODES.has(error.code);
    return { reason, unsent };
  }
  if (error instanceof PrismaNamespace.PrismaClientInitializationError) return { reason: 'the client could not connect', unsent: true };
  if (error instanceof Error && PG_CONNECT_MESSAGES.test(error.message)) return { reason: 'connection timed out', unsent: true };
  if (error instanceof Error && PG_LOST_MESSAGES.test(error.message)) return { reason: 'connection lost', unsent: false };
  return undefined;
}

// Private:

/** The adapter's error kinds (DriverAdapterError causes) that mean the database cannot be used. */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TlsConnectionError', 'AuthenticationFailed', 'DatabaseAccessDenied', 'DatabaseDoesNotExist']);

/** Of those, the kinds that can break a connection a statement was already sent on. */
const MIDWAY_ADAPTER_KINDS = new Set(['ConnectionClosed', 'SocketTimeout']);

/** Prisma's own codes for the same, when no adapter error says more. */
const PRISMA_CODES: Partial<Record<string, string>> = {
  P1001: 'not reachable',
  P1002: 'timed out',
  P1008: 'operation timed out',
  P1017: 'server closed the connection',
  P2024: 'timed out waiting for a connection',
  P2028: 'transaction could not start or finish in time',
};

const MIDWAY_PRISMA_CODES = new Set(['P1008', 'P1017']);

/** pg's plain errors for a connection that could not be made in time (pg/lib/client.js, pg-pool). */
const PG_CONNECT_MESSAGES = /^(Connection terminated due to connection timeout|timeout exceeded when trying to connect)/;
/** pg's plain errors for a connection dropped under a statement, broken before it, or silent past `query_timeout`. */
const PG_LOST_MESSAGES = /^(Connection terminated unexpectedly|Client has encountered a connection error|Query read timeout)/;

function adapterErrorKind(meta: unknown): { kind: string; code?: unknown } | undefined {
  const cause = (meta as { driverAdapterError?: { cause?: { kind?: unknown; code?: unknown } } } | undefined)?.driverAdapterError?.cause;
  return typeof cause?.kind === 'string' ? { kind: cause.kind, code: cause.code } : undefined;
}

/** A PostgreSQL error passed through by the adapter (kind `postgres`): connection exceptions and shutdowns. */
function postgresUnavailability(error: { kind: string; code?: unknown }): string | undefined {
  if (error.kind !== 'postgres' || typeof error.code !== 'string') return undefined;
  return error.code.startsWith('08') || /^57P0[1-3]$/.test(error.code) ? `PostgreSQL ${error.code}` : undefined;
}
