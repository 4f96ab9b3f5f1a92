import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { DatabaseUnavailableError } from '../errors.ts';

/**
 * Apollo's `formatError`: what a client may see of an error.
 *
 * - An error raised on purpose (a GraphQLError: ours, graphql-js's or Apollo's, each naming the
 *   field, the value and the reason) goes out as it is, with long quoted values cut short: a client
 *   that sends a megabyte must not get two back. A GraphQLError that only wraps a thrown Error is
 *   not one of these.
 * - A database that cannot be used (DatabaseUnavailableError) is `SERVICE_UNAVAILABLE`, saying
 *   what a failed write wrote, and nothing of why: the request is a 503 ({@link errorReportingPlugin}).
 * - Anything else is a failure of the server (a driver error, a bug): the client gets
 *   `INTERNAL_SERVER_ERROR` and no detail, since its text can name hosts, tables and queries.
 *
 * The same in production and in development: a driver's message names the database's host and
 * port, and a development server can be reachable too. The detail is in the log line that carries
 * the request id the client got ({@link errorReportingPlugin} writes it; this logs only the
 * failures that happen outside an operation, before there is a request to name).
 */
export function clientErrorFormatter(logger: Logger): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const original = unwrapResolverError(error);
    if (original instanceof DatabaseUnavailableError) {
      return {
        message: UNAVAILABLE_MESSAGES[original.wrote ?? 'read'],
        ...(formatted.locations ? { locations: formatted.locations } : {}),
        ...(formatted.path ? { path: formatted.path } : {}),
        extensions: { code: original.code, ...(original.wrote ? { wrote: original.wrote } : {}) },
      };
    }
    if (raisedOnPurpose(original)) {
      // Apollo codes a deliberate refusal that names no code (a persisted query's bad hash or
      // version) INTERNAL_SERVER_ERROR, though its status says the client erred.
      const code = formatted.extensions?.code === 'INTERNAL_SERVER_ERROR' && isClientStatus(original) ? { extensions: { ...formatted.extensions, code: 'BAD_REQUEST' } } : {};
      const message = formatted.message.length <= SHORT_MESSAGE ? {} : { message: shortened(formatted.message) };
      return { ...formatted, ...code, ...message };
    }
    if (!reported.has(original as object)) logger.error({ err: original, path: formatted.path }, 'operation failed');
    return {
      message: 'Internal server error',
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** What {@link errorReportingPlugin} needs. */
export interface ErrorReportingOptions {
  readonly logger: Logger;
  /** The `Retry-After` of a 503 ({@link Config.retryAfterSeconds}). */
  readonly retryAfterSeconds: number;
}

/**
 * Reports each failure of the server once, and tells the client how to find it:
 *
 * - every error that is not raised on purpose is logged, whole (driver message, stack, cause),
 *   once per distinct error with the paths it failed, and with the request's id;
 * - every error sent carries that id in `extensions.requestId` (it is also the `x-request-id`
 *   response header);
 * - a response with any DatabaseUnavailableError is a 503 with `Retry-After`, partial data or
 *   not: a query the cache tiers could answer in full never meets the database, and a client
 *   given a 200 with a null would not know to try again. (Errors are never stored, so neither is
 *   this.)
 *
 * The id is the one the HTTP layer gave the request (requestId.ts), which it passes to Apollo as
 * the request's `x-request-id` header.
 */
export function errorReportingPlugin(options: ErrorReportingOptions): ApolloServerPlugin {
  const { logger, retryAfterSeconds } = options;
  return {
    async requestDidStart({ request }) {
      const requestId = request.http?.headers.get('x-request-id');
      let unavailable = false;
      return {
        async didEncounterErrors({ errors }) {
          const failures = new Map<unknown, Array<ReadonlyArray<string | number> | undefined>>();
          for (const error of errors) {
            const original = unwrapResolverError(error);
            if (original instanceof DatabaseUnavailableError) unavailable = true;
            else if (raisedOnPurpose(original)) continue;
            failures.set(original, [...(failures.get(original) ?? []), error.path]);
          }
          for (const [original, paths] of failures) {
            if (typeof original === 'object' && original !== null) reported.add(original);
            const message = original instanceof DatabaseUnavailableError ? 'database unavailable' : 'operation failed';
            logger.error({ err: original, requestId, paths }, message);
          }
        },
        async willSendResponse({ response }) {
          if (unavailable) {
            response.http.status = 503;
            response.http.headers.set('retry-after', String(retryAfterSeconds));
          }
          if (requestId === undefined || response.body.kind !== 'single' || !response.body.singleResult.errors) return;
          const { singleResult } = response.body;
          const errors = singleResult.errors?.map((error) => ({ ...error, extensions: { ...error.extensions, requestId } }));
          response.body = { kind: 'single', singleResult: { ...singleResult, errors } };
        },
      };
    },
  };
}

/** A message with each long quoted value cut to a preview, and the whole cut to {@link MAX_MESSAGE}. Pure. */
export function shortened(message: string): string {
  const cut = message.replace(LONG_QUOTED, (quoted) => `${quoted.slice(0, QUOTE_PREVIEW)}…" (${quoted.length - 2} characters)`);
  return cut.length <= MAX_MESSAGE ? cut : `${cut.slice(0, MAX_MESSAGE)}…`;
}

// Private:

/** Errors the plugin has logged with their request's id: the formatter does not log them again. */
const reported = new WeakSet<object>();

/** What a client is told of a DatabaseUnavailableError, by what it says was written (undefined: it was a read). */
const UNAVAILABLE_MESSAGES: Record<NonNullable<DatabaseUnavailableError['wrote']> | 'read', string> = {
  nothing: 'The service cannot reach its database: nothing was written. Try again after the time in Retry-After.',
  unknown: 'The service lost its database while committing this write: it may or may not have been written. Read it back before trying again.',
  read: 'The service cannot reach its database, and its cache does not hold this data. Try again after the time in Retry-After.',
};

/** A GraphQLError made on purpose, not one Apollo wrapped around a thrown Error (`originalError`). */
function raisedOnPurpose(error: unknown): error is GraphQLError {
  return error instanceof GraphQLError && (error.originalError === undefined || error.originalError instanceof GraphQLError);
}

function isClientStatus(error: GraphQLError): boolean {
  const status = (error.extensions.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' && status >= 400 && status < 500;
}

const SHORT_MESSAGE = 200;
const QUOTE_PREVIEW = 64;
const MAX_MESSAGE = 1000;
/** A JSON string literal longer than the preview, as graphql-js quotes values in its messages. */
const LONG_QUOTED = new RegExp(`"(?:[^"\\\\]|\\\\.){${QUOTE_PREVIEW},}"`, 'g');
