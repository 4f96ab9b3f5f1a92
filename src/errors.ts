import { HeaderMap } from '@apollo/server';
import { GraphQLError } from 'graphql';
import { reasonOf, valuePreview } from './errorMessages.ts';

/**
 * Every failure this project raises on purpose, one class per kind. Each has a stable `code` that
 * logs, tests and GraphQL clients can match on, and keeps the underlying `cause`.
 */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MIGRATION_FAILED'
  | 'CACHE_TIER_UNAVAILABLE'
  | 'CACHE_ENTRY_CORRUPT'
  | 'RATE_LIMIT_UNAVAILABLE'
  | 'UNAUTHENTICATED'
  | 'CLIENT_GONE'
  | 'LOCK_NOT_ACQUIRED'
  | 'LOCK_LOST'
  | 'LOCK_UNAVAILABLE'
  | 'FENCING_TOKEN_STALE'
  | 'SERVICE_UNAVAILABLE';

abstract class ProjectError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An environment variable has a value the server cannot run with. Stops startup. */
export class ConfigError extends ProjectError {
  readonly code = 'CONFIG_INVALID';

  constructor(
    readonly variable: string,
    readonly value: string | undefined,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable}=${JSON.stringify(value ?? null)}: ${reason}`);
  }
}

/** A migration could not be applied; nothing of it was recorded as applied. */
export class MigrationError extends ProjectError {
  readonly code = 'MIGRATION_FAILED';

  constructor(
    readonly migration: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Migration ${migration} failed: ${reason}`, options);
  }
}

/** A cache tier refused, timed out or is disconnected. Callers degrade; requests never fail on it. */
export class CacheTierUnavailableError extends ProjectError {
  readonly code = 'CACHE_TIER_UNAVAILABLE';

  constructor(
    readonly tier: string,
    options?: { cause?: unknown },
  ) {
    super(`Cache tier ${tier} is unavailable`, options);
  }
}

/**
 * The rate limiter's Redis refused, timed out or is disconnected: requests go through uncounted, or
 * are refused with 503, as RATE_LIMIT_WHEN_REDIS_DOWN says. Logged once per outage.
 */
export class RateLimitUnavailableError extends ProjectError {
  readonly code = 'RATE_LIMIT_UNAVAILABLE';

  constructor(options?: { cause?: unknown }) {
    super("The rate limiter's Redis is unavailable", options);
  }
}

/** Bytes read from a shared tier are not a valid entry of this version. Treated as a miss. */
export class CacheEntryCorruptError extends ProjectError {
  readonly code = 'CACHE_ENTRY_CORRUPT';

  constructor(
    readonly key: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Cache entry ${key} is not valid: ${reason}`, options);
  }
}

/**
 * A request's credentials cannot be trusted: a malformed Authorization header, or a Bearer token that
 * is forged, tampered with, expired or names no user. The request is refused (401), never served as
 * anonymous, so a client with a broken token finds out instead of silently losing its identity.
 */
export class InvalidTokenError extends ProjectError {
  readonly code = 'UNAUTHENTICATED';

  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Not authenticated: ${reason}`, options);
  }
}

/**
 * The client hung up before its request was read, or while it was answered. Nothing is wrong with
 * the server: logged at debug level, never as an error (a client could flood the error log).
 */
export class ClientGoneError extends ProjectError {
  readonly code = 'CLIENT_GONE';

  constructor(options?: { cause?: unknown }) {
    super('The client closed the connection before the request was answered', options);
  }
}

/** Another holder kept the lock for the whole acquire wait bound. Nothing ran. */
export class LockNotAcquiredError extends ProjectError {
  readonly code = 'LOCK_NOT_ACQUIRED';

  constructor(
    readonly lock: string,
    readonly waitedMs: number,
  ) {
    super(`Lock ${lock} is held by another holder; not acquired after waiting ${waitedMs} ms`);
  }
}

/**
 * The lock expired while its holder ran (a pause longer than its TTL, or renewals that could not
 * reach Redis), and another holder may have taken it. What the holder wrote without a fencing check
 * may have raced the next holder. `cause` is the holder's own failure, if it had one.
 */
export class LockLostError extends ProjectError {
  readonly code = 'LOCK_LOST';

  constructor(
    readonly lock: string,
    options?: { cause?: unknown },
  ) {
    super(`Lock ${lock} was lost while its holder ran: another holder may have taken it`, options);
  }
}

/** Redis refused, timed out or is disconnected while taking a lock. Nothing ran. */
export class LockUnavailableError extends ProjectError {
  readonly code = 'LOCK_UNAVAILABLE';

  constructor(
    readonly lock: string,
    options?: { cause?: unknown },
  ) {
    super(`Lock ${lock} could not be taken: Redis did not answer (${reasonOf(options?.cause)})`, options);
  }
}

/**
 * A write guarded by a lock carries a fencing token lower than one the resource has already seen:
 * its writer lost the lock to a later holder. The write is refused (its transaction rolls back).
 */
export class StaleFencingTokenError extends ProjectError {
  readonly code = 'FENCING_TOKEN_STALE';

  constructor(
    readonly lock: string,
    readonly token: number,
  ) {
    super(`Write under lock ${lock} refused: fencing token ${token} is older than one already written`);
  }
}

/**
 * The database cannot be used right now: unreachable, refusing or dropping connections, or not
 * answering in time (database/databaseErrors.ts says what counts). Raised at the database boundary
 * (CatalogQueries, CatalogWrites) with the driver's error as `cause`, which only the log sees; the
 * request gets a 503 with `Retry-After` (http/clientErrors.ts).
 */
export class DatabaseUnavailableError extends ProjectError {
  readonly code = 'SERVICE_UNAVAILABLE';
  /** Set by a failed write: `nothing` when no COMMIT was sent, `unknown` when the connection broke while it may have been committing. */
  readonly wrote: 'nothing' | 'unknown' | undefined;

  constructor(
    readonly reason: string,
    options?: { cause?: unknown; wrote?: 'nothing' | 'unknown' },
  ) {
    super(`The database is unavailable: ${reason}`, options);
    this.wrote = options?.wrote;
  }
}

/**
 * A GraphQL argument has a value outside its contract. The message and `extensions` name the
 * argument, the value and the reason, so a frontend can point at the field. A long value is shown
 * truncated: a client that sends a megabyte must not get two back.
 */
export class InvalidArgumentError extends GraphQLError {
  constructor(argument: string, value: unknown, reason: string) {
    const shown = valuePreview(value);
    super(`Argument "${argument}" has invalid value ${shown.text}: ${reason}.`, {
      extensions: { code: 'BAD_USER_INPUT', argumentName: argument, value: shown.whole ? value : shown.text },
    });
    this.name = 'InvalidArgumentError';
  }
}

/** The operation asks for a field that only a signed-in viewer may ask for, and the request is anonymous: 401, and nothing of the operation runs. */
export class AuthenticationRequiredError extends GraphQLError {
  constructor(field: string, required: string) {
    super(`Field "${field}" requires a signed-in viewer${required === 'USER' ? '' : ` with role ${required}`}; send \`Authorization: Bearer <token>\`.`, {
      extensions: { code: 'UNAUTHENTICATED', field, requiredRole: required, http: { status: 401, headers: new HeaderMap([['www-authenticate', 'Bearer']]) } },
    });
    this.name = 'AuthenticationRequiredError';
  }
}

/** The viewer is signed in but may not do this: 403, and nothing of the operation runs (or, for a field, nothing is written). */
export class ForbiddenError extends GraphQLError {
  constructor(field: string, reason: string) {
    super(`Field "${field}": ${reason}.`, { extensions: { code: 'FORBIDDEN', field, http: { status: 403 } } });
    this.name = 'ForbiddenError';
  }
}

/** An operation goes over one of the limits checked before execution (depth, aliases, cost, ...): 400, and nothing of it runs. */
export class OperationLimitError extends GraphQLError {
  constructor(limit: string, value: number, max: number) {
    super(`${limit[0]?.toUpperCase()}${limit.slice(1)} limit of ${max} exceeded, found ${Number.isFinite(value) ? value : 'more than can be counted'}.`, {
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED', limit, value, max, http: { status: 400 } },
    });
    this.name = 'OperationLimitError';
  }
}

/** An id argument is well formed but names no row. */
export class NotFoundError extends GraphQLError {
  constructor(argument: string, typeName: string, id: string) {
    super(`Argument "${argument}": no ${typeName} has id ${JSON.stringify(id)}.`, {
      extensions: { code: 'NOT_FOUND', argumentName: argument, value: id },
    });
    this.name = 'NotFoundError';
  }
}
