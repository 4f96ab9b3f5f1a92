import type { IncomingMessage, ServerResponse } from 'node:http';
import { requestIdOf } from './requestId.ts';

/** What {@link sendJsonError} may add to an error response. */
export interface JsonErrorOptions {
  /** Seconds the client should wait before trying again: sent as `Retry-After` (a 503, a 429). */
  readonly retryAfterSeconds?: number;
}

/**
 * The server's own error responses (400, 401, 404, 413, 414, 429, 500, 503), shaped as Apollo shapes
 * its own: `{ errors: [{ message, extensions: { code, requestId } }] }`, never stored. Their content
 * type is the one Apollo would pick for the same request ({@link errorContentType}), so a GraphQL
 * over HTTP client (Apollo Client 4) reads the error, its code and its id instead of reporting a
 * bare status.
 */
export function sendJsonError(res: ServerResponse, status: number, message: string, code = defaultCode(status), options: JsonErrorOptions = {}): void {
  const req = res.req as IncomingMessage | undefined;
  res.statusCode = status;
  res.setHeader('content-type', errorContentType(req?.headers.accept));
  res.setHeader('cache-control', 'no-store');
  if (options.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(options.retryAfterSeconds));
  res.end(errorBody(message, code, req ? requestIdOf(req) : undefined));
}

/** The body of an error response. Pure. */
export function errorBody(message: string, code: string, requestId: string | undefined): string {
  return JSON.stringify({ errors: [{ message, extensions: { code, ...(requestId === undefined ? {} : { requestId }) } }] });
}

export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';
export const APPLICATION_JSON = 'application/json; charset=utf-8';

/**
 * The content type of an error for a request with this `Accept`, chosen as Apollo chooses its own
 * (Negotiator over application/json, then application/graphql-response+json): the higher `q` wins,
 * then the more specific range, then the one listed first in `Accept`; a tie, no header or no
 * acceptable type is application/json. With application/graphql-response+json a non-2xx status is
 * the GraphQL-over-HTTP way to refuse a request; with application/json clients expect 200s, but a
 * status that says what happened is still better than a 200 that hides it. Pure.
 */
export function errorContentType(accept: string | undefined): string {
  if (accept === undefined || accept === '') return APPLICATION_JSON;
  const ranges = parseAccept(accept);
  const graphql = priority('application/graphql-response+json', ranges);
  if (graphql === undefined || graphql.q === 0) return APPLICATION_JSON;
  const json = priority('application/json', ranges);
  if (json === undefined || json.q === 0) return GRAPHQL_RESPONSE_JSON;
  const wins = graphql.q - json.q || graphql.specificity - json.specificity || json.order - graphql.order;
  return wins > 0 ? GRAPHQL_RESPONSE_JSON : APPLICATION_JSON;
}

// Private:

function defaultCode(status: number): string {
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 503) return 'SERVICE_UNAVAILABLE';
  return status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
}

interface MediaRange {
  readonly type: string;
  readonly q: number;
}

function parseAccept(accept: string): MediaRange[] {
  return accept.split(',').map((part) => {
    const [type = '', ...parameters] = part.split(';');
    const q = parameters.map((p) => /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(p)?.[1]).find((value) => value !== undefined);
    return { type: type.trim().toLowerCase(), q: q === undefined ? 1 : Number(q) };
  });
}

/** How a media type is accepted: by its most specific matching range (exact, `type/*`, `*\/*`). */
function priority(mediaType: string, ranges: readonly MediaRange[]): { q: number; specificity: number; order: number } | undefined {
  const major = `${mediaType.split('/')[0]}/*`;
  let best: { q: number; specificity: number; order: number } | undefined;
  ranges.forEach((range, order) => {
    const specificity = range.type === mediaType ? 2 : range.type === major ? 1 : range.type === '*/*' ? 0 : -1;
    if (specificity < 0 || (best !== undefined && specificity <= best.specificity)) return;
    best = { q: range.q, specificity, order };
  });
  return best;
}
