import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';

/**
 * Apollo's `formatError`: what a client may see of an error.
 *
 * - An error raised on purpose (a GraphQLError: ours, graphql-js's or Apollo's, each naming the
 *   field, the value and the reason) goes out as it is, with long quoted values cut short: a client
 *   that sends a megabyte must not get two back. A GraphQLError that only wraps a thrown Error is
 *   not one of these.
 * - Anything else is a failure of the server (a database or driver error, a bug): the client gets
 *   `INTERNAL_SERVER_ERROR` and no detail, since its text can name hosts, tables and queries; the
 *   log gets the whole error.
 */
export function clientErrorFormatter(logger: Logger): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const original = unwrapResolverError(error);
    if (raisedOnPurpose(original)) {
      // Apollo codes a deliberate refusal that names no code (a persisted query's bad hash or
      // version) INTERNAL_SERVER_ERROR, though its status says the client erred.
      const code = formatted.extensions?.code === 'INTERNAL_SERVER_ERROR' && isClientStatus(original) ? { extensions: { ...formatted.extensions, code: 'BAD_REQUEST' } } : {};
      const message = formatted.message.length <= SHORT_MESSAGE ? {} : { message: shortened(formatted.message) };
      return { ...formatted, ...code, ...message };
    }
    logger.error({ err: original, path: formatted.path }, 'operation failed');
    return {
      message: 'Internal server error',
      ...(formatted.locations ? { locations: formatted.locations } : {}),
      ...(formatted.path ? { path: formatted.path } : {}),
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}

/** A message with each long quoted value cut to a preview, and the whole cut to {@link MAX_MESSAGE}. Pure. */
export function shortened(message: string): string {
  const cut = message.replace(LONG_QUOTED, (quoted) => `${quoted.slice(0, QUOTE_PREVIEW)}…" (${quoted.length - 2} characters)`);
  return cut.length <= MAX_MESSAGE ? cut : `${cut.slice(0, MAX_MESSAGE)}…`;
}

// Private:

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
