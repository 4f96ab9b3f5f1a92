import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import type { Logger } from 'pino';
import type { BearerTokens } from '../auth/bearerTokens.ts';
import { ANONYMOUS, viewerFrom, type Viewer } from '../auth/viewer.ts';
import type { HttpLimits } from '../config/httpLimits.ts';
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- imported for the {@link} in a doc comment
import type { ObservabilityOptions } from '../config/observabilityOptions.ts';
import { InvalidTokenError } from '../errors.ts';
import type { RateLimiter } from '../limits/rateLimit/rateLimiter.ts';
import { inOperationSpan, inRequestSpan } from '../observability/tracing.ts';
import type { Answer, Exchange, ResponseTier } from '../responses/responseTier.ts';
import { RequestCacheReport } from '../observability/requestCacheReport.ts';
import type { RequestContext } from '../schema/context.ts';
import { sendJsonError } from './errorResponses.ts';
import { requestIdOf } from './requestId.ts';
import { BodyError, bodyFrom, readBody } from './requestBody.ts';

// Where the server's own error responses used to be written; callers still import it from here.
export { sendJsonError } from './errorResponses.ts';

/** What one request may make the server read, build and keep (each documented on HttpLimits). */
export type RequestLimits = Readonly<Pick<HttpLimits, 'maxBodyBytes' | 'maxQueryBytes' | 'maxResponseBytes' | 'maxStoredResponseBytes' | 'maxUrlBytes'>>;

export interface GraphQLEndpoint {
  readonly apollo: ApolloServer<RequestContext>;
  readonly context: (request: { viewer: Viewer; cacheReport?: RequestCacheReport }) => RequestContext;
  readonly tokens: BearerTokens;
  /** The response tier (when it is off, it still writes every cacheable response's headers). */
  readonly responses: ResponseTier;
  readonly logger: Logger;
  readonly limits: RequestLimits;
  /** Counts every request, response-tier hits included (RATE_LIMIT); absent, nothing is counted. */
  readonly rateLimiter?: RateLimiter;
  /** Called each time a request goes to Apollo (parse, validate, execute): what a hit skips. */
  readonly onExecute?: () => void;
  /** Whether a request may ask for `extensions.cache` with `x-cache-debug: 1` ({@link ObservabilityOptions.cacheDebug}). @default false */
  readonly cacheDebug?: boolean;
}

/**
 * Serves POST and GET /graphql on plain node:http. In order:
 *
 * 1. the viewer, from a signed Bearer token (a bad one is a 401, never an anonymous answer);
 * 1b. the rate limit, per viewer or, anonymous, per address (a request over it is a 429), before the
 *    response tier, so that a hit counts too;
 * 2. the response tier (ResponseTier.serve), before anything is parsed: a hit writes the stored
 *    bytes back;
 * 3. otherwise Apollo (its own integration contract: an HTTPGraphQLRequest in, a response out). A
 *    response the execution says may be cached (a query, no errors, maxAge > 0) goes back to the
 *    response tier, which writes its Cache-Control, Vary, ETag and tag headers (and a 304 for a
 *    matching If-None-Match) and stores it; anything else is sent here, `no-store`.
 *
 * Before any of it, the request is bounded (see RequestLimits): a URL over its limit is a 414, a
 * body or a query text over its limit is a 413, and a response over its budget is replaced by an
 * error and never stored.
 */
export function handleGraphQL(req: IncomingMessage, res: ServerResponse, endpoint: GraphQLEndpoint): Promise<void> {
  return inRequestSpan(req, res, () => serveGraphQL(req, res, endpoint));
}

/** {@link handleGraphQL}, inside the request's span. */
async function serveGraphQL(req: IncomingMessage, res: ServerResponse, endpoint: GraphQLEndpoint): Promise<void> {
  const { limits } = endpoint;
  // Below Node's own header limit (a 431 on the socket, see clientErrorAnswer.ts), so that a GET a
  // proxy might still pass is refused here, with a message that says what to do instead.
  const urlBytes = Buffer.byteLength(req.url ?? '');
  if (urlBytes > limits.maxUrlBytes) {
    return sendJsonError(res, 414, `URL of ${urlBytes} bytes exceeds the maximum of ${limits.maxUrlBytes} bytes (MAX_URL_BYTES); send a long query or long variables by POST.`, 'URL_TOO_LONG');
  }
  const text = req.method === 'POST' ? await readBody(req, limits.maxBodyBytes) : undefined;
  if (text instanceof BodyError) return sendBodyError(res, text);

  let viewer: Viewer;
  try {
    const found = viewerFrom(req.headers.authorization, endpoint.tokens);
    viewer = found instanceof Promise ? await found : found;
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    // A forged token costs a signature check: it is counted against its address like an anonymous
    // request, so guessing tokens is rate limited too.
    if (await refusedByRateLimit(req, res, ANONYMOUS, endpoint)) return;
    return sendUnauthorized(res, error);
  }
  if (await refusedByRateLimit(req, res, viewer, endpoint)) return;

  const url = req.url ?? '/';
  const search = url.includes('?') ? url.slice(url.indexOf('?')) : '';
  let body: unknown = UNPARSED;
  /** The POST body as Apollo takes it; parsed only when needed (a memoised hit never is). */
  const parseBody = (): unknown => (body === UNPARSED ? (body = bodyFrom(req, text)) : body);
  // Before anything parses it, or hashes it, or looks it up. A query no longer than its request's
  // text is checked only when that text could be over the limit (a UTF-8 character is 1-3 bytes).
  const raw = req.method === 'GET' ? search : text;
  if (raw !== undefined && raw.length * 3 > limits.maxQueryBytes) {
    const query = req.method === 'GET' ? new URLSearchParams(search).get('query') : queryOf(parseBody());
    const bytes = typeof query === 'string' ? Buffer.byteLength(query) : 0;
    if (bytes > limits.maxQueryBytes) {
      return sendJsonError(res, 413, `Query text of ${bytes} bytes exceeds the maximum of ${limits.maxQueryBytes} bytes (MAX_QUERY_BYTES).`, 'QUERY_TOO_LARGE');
    }
  }
  const viewerKey = viewer.userId === null ? 'anonymous' : String(viewer.userId);
  const cacheDebug = endpoint.cacheDebug === true && req.headers['x-cache-debug'] === '1';
  const exchange: Exchange = { req, res, search, text, parseBody, viewer: viewerKey, cacheDebug };
  await endpoint.responses.serve(exchange, () => execute(exchange, viewer, endpoint));
}

/**
 * Runs the request through Apollo (its own integration contract: an HTTPGraphQLRequest in, a
 * response out). A response the response tier may keep is handed back to it; anything else is
 * sent here.
 */
async function execute({ req, res, search, parseBody, cacheDebug }: Exchange, viewer: Viewer, endpoint: GraphQLEndpoint): Promise<Answer> {
  const { limits } = endpoint;
  const parsedBody = parseBody();
  if (parsedBody instanceof BodyError) {
    sendBodyError(res, parsedBody);
    return SENT;
  }
  const context = endpoint.context({ viewer, ...(cacheDebug ? { cacheReport: new RequestCacheReport() } : {}) });
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // The id this server gave the request, not the client's: what the error reporting plugin logs and
  // stamps on errors (clientErrors.ts), which sees the request only as Apollo does.
  const requestId = requestIdOf(req);
  if (requestId !== undefined) headers.set('x-request-id', requestId);
  const request: HTTPGraphQLRequest = { method: (req.method ?? 'GET').toUpperCase(), headers, search, body: parsedBody };
  endpoint.onExecute?.();
  const response = await inOperationSpan(() => endpoint.apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: request, context: async () => context }));
  res.statusCode = response.status ?? 200;
  for (const [name, value] of response.headers) res.setHeader(name, value);

  // The execution budget. Only a query's answer is cut off: a mutation's write has happened, and its
  // answer is bounded by the operation cost limit already.
  if (response.body.kind === 'complete' && context.outcome.operation === 'query' && response.body.string.length * 3 > limits.maxResponseBytes) {
    const bytes = Buffer.byteLength(response.body.string);
    if (bytes > limits.maxResponseBytes) {
      sendJsonError(res, 400, `Response of ${bytes} bytes exceeds the budget of ${limits.maxResponseBytes} bytes (MAX_RESPONSE_BYTES); ask for fewer fields or smaller pages.`, 'RESPONSE_TOO_LARGE');
      return SENT;
    }
  }

  const policy = context.outcome.cacheable;
  if (response.body.kind !== 'complete' || policy === undefined || policy.maxAge <= 0) {
    // Mutations, errors, maxAge 0, incremental delivery: nothing may keep these.
    res.setHeader('cache-control', 'no-store');
    if (response.body.kind === 'complete') res.end(response.body.string);
    else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
    const refused = policy ? 'max_age_zero' : context.outcome.refused;
    return refused ? { kind: 'sent', refused } : SENT;
  }
  const contentType = response.headers.get('content-type') ?? 'application/json; charset=utf-8';
  return { kind: 'cacheable', body: response.body.string, contentType, policy, tags: [...context.touched] };
}

const SENT: Answer = { kind: 'sent' };
const UNPARSED = Symbol('not parsed yet');

// Private:

/** Counts the request (a response-tier hit too); true when it was answered 429, or 503 with the limiter's Redis down and RATE_LIMIT_WHEN_REDIS_DOWN=closed. */
async function refusedByRateLimit(req: IncomingMessage, res: ServerResponse, viewer: Viewer, endpoint: GraphQLEndpoint): Promise<boolean> {
  if (!endpoint.rateLimiter) return false;
  const verdict = await endpoint.rateLimiter.check(req, viewer);
  // Every answer carries them, a 429 and a hit too; the response tier never stores them.
  for (const [name, value] of Object.entries(verdict.headers) as [string, string | undefined][]) if (value !== undefined) res.setHeader(name, value);
  if (verdict.kind === 'refused') sendJsonError(res, 429, verdict.message, 'RATE_LIMITED');
  else if (verdict.kind === 'unavailable') sendJsonError(res, 503, verdict.message, 'RATE_LIMIT_UNAVAILABLE');
  return verdict.kind !== 'allowed';
}

function sendBodyError(res: ServerResponse, error: BodyError): void {
  // The rest of the body is never read: the connection closes after the answer.
  if (error.close) res.setHeader('connection', 'close');
  sendJsonError(res, error.status, error.message, error.code);
}

function queryOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { query?: unknown }).query : undefined;
}

function sendUnauthorized(res: ServerResponse, error: InvalidTokenError): void {
  res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${error.reason.replace(/["\\]/g, '')}"`);
  sendJsonError(res, 401, error.message, error.code);
}
