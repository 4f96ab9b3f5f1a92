import { GraphQLError } from 'graphql';

/**
 * Every failure this project raises on purpose, one class per kind. Each has a stable `code` that
 * logs, tests and GraphQL clients can match on, and keeps the underlying `cause`.
 */

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'MIGRATION_FAILED'
  | 'CACHE_TIER_UNAVAILABLE'
  | 'CACHE_ENTRY_CORRUPT'
  | 'UNAUTHENTICATED';

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
 * A GraphQL argument has a value outside its contract. The message and `extensions` name the
 * argument, the value and the reason, so a frontend can point at the field.
 */
export class InvalidArgumentError extends GraphQLError {
  constructor(argument: string, value: unknown, reason: string) {
    super(`Argument "${argument}" has invalid value ${JSON.stringify(value)}: ${reason}.`, {
      extensions: { code: 'BAD_USER_INPUT', argumentName: argument, value },
    });
    this.name = 'InvalidArgumentError';
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
