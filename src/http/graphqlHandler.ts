import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type HTTPGraphQLRequest } from '@apollo/server';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { BearerTokens } from '../auth/bearerTokens.ts';
import { viewerFrom, type Viewer } from '../auth/viewer.ts';
import type { HttpLimits } from '../config/config.ts';
import { InvalidTokenError } from '../errors.ts';
import { cacheControlAtAge, storedTtlSeconds } from '../responses/httpPolicy.ts';
import { paramsFromSearch, requestIdentity, type GraphQLParams, type RequestIdentity } from '../responses/requestIdentity.ts';
import type { ResponseCache } from '../responses/responseCache.ts';
import { cacheableHeaders, type ResponseHeaderOptions } from '../responses/responseHeaders.ts';
import type { CompleteResponse } from '../responses/storedResponse.ts';
import { isTypeTag } from '../cache/tags/tags.ts';
import type { RequestContext } from '../schema/context.ts';
import { ifNoneMatchHits } from './conditionalRequest.ts';
import { mayBeCrossSiteForgery } from './csrf.ts';
import { BodyError, bodyFrom, isJsonContentType, readBody } from './requestBody.ts';

/** What one request may make the server read, build and keep (each documented on HttpLimits). */
export type RequestLimits = Readonly<Pick<HttpLimits, 'maxBodyBytes' | 'maxQueryBytes' | 'maxResponseBytes' | 'maxStoredResponseBytes'>>;

export interface GraphQLEndpoint {
  readonly apollo: ApolloServer<RequestContext>;
  readonly context: (viewer: Viewer) => RequestContext;
  readonly tokens: BearerTokens;
  /** The response tier; undefined when it is off. */
  readonly responses: ResponseCache | undefined;
  readonly headers: ResponseHeaderOptions;
  readonly logger: Logger;
  readonly limits: RequestLimits;
  /** Called each time a request goes to Apollo (parse, validate, execute): what a hit skips. */
  readonly onExecute?: () => void;
}

/**
 * Serves POST and GET /graphql on plain node:http. In order:
 *
 * 1. the viewer, from a signed Bearer token (a bad one is a 401, never an anonymous answer);
 * 2. the response tier, before anything is parsed: a hit writes the stored bytes back;
 * 3. otherwise Apollo (its own integration contract: an HTTPGraphQLRequest in, a response out),
 *    whose response gets its Cache-Control, Vary, ETag and tag headers here, and is stored when the
 *    execution says it may be (a query, no errors, maxAge > 0).
 *
 * A GET whose `If-None-Match` names the response's ETag gets 304 with no body, hit or miss.
 *
 * Before any of it, the request is bounded (see RequestLimits): a body or a query text over its
 * limit is a 413, and a response over its budget is replaced by an error and never stored.
 */
export async function handleGraphQL(req: IncomingMessage, res: ServerResponse, endpoint: GraphQLEndpoint): Promise<void> {
  const { limits } = endpoint;
  const text = req.method === 'POST' ? await readBody(req, limits.maxBodyBytes) : undefined;
  if (text instanceof BodyError) return sendBodyError(res, text);

  let viewer: Viewer;
  try {
    const found = viewerFrom(req.headers.authorization, endpoint.tokens);
    viewer = found instanceof Promise ? await found : found;
  } catch (error) {
    if (error instanceof InvalidTokenError) return sendUnauthorized(res, error);
    throw error;
  }

  const url = req.url ?? '/';
  const search = url.includes('?') ? url.slice(url.indexOf('?')) : '';
  const { responses } = endpoint;
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
  const identity = responses ? identify(req, search, text, parseBody) : undefined;
  const viewerKey = viewer.userId === null ? 'anonymous' : String(viewer.userId);
  if (responses && identity) {
    const found = responses.lookup(identity.hash, viewerKey);
    const hit = found instanceof Promise ? await found : found;
    if (hit) return sendResponse(req, res, hit, 'HIT');
  }

  const parsedBody = parseBody();
  if (parsedBody instanceof BodyError) return sendBodyError(res, parsedBody);
  const execution = responses && identity ? responses.begin() : undefined;
  const context = endpoint.context(viewer);
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const request: HTTPGraphQLRequest = { method: (req.method ?? 'GET').toUpperCase(), headers, search, body: parsedBody };
  endpoint.onExecute?.();
  const response = await endpoint.apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: request, context: async () => context });
  res.statusCode = response.status ?? 200;
  for (const [name, value] of response.headers) res.setHeader(name, value);

  // The execution budget. Only a query's answer is cut off: a mutation's write has happened, and its
  // answer is bounded by the operation cost limit already.
  if (response.body.kind === 'complete' && context.outcome.operation === 'query' && response.body.string.length * 3 > limits.maxResponseBytes) {
    const bytes = Buffer.byteLength(response.body.string);
    if (bytes > limits.maxResponseBytes) {
      return sendJsonError(
        res,
        400,
        `Response of ${bytes} bytes exceeds the budget of ${limits.maxResponseBytes} bytes (MAX_RESPONSE_BYTES); ask for fewer fields or smaller pages.`,
        'RESPONSE_TOO_LARGE',
      );
    }
  }

  const policy = context.outcome.cacheable;
  if (response.body.kind !== 'complete' || policy === undefined || policy.maxAge <= 0) {
    // Mutations, errors, maxAge 0, incremental delivery: nothing may keep these.
    res.setHeader('cache-control', 'no-store');
    if (response.body.kind === 'complete') return void res.end(response.body.string);
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    return void res.end();
  }

  const bytes = Buffer.from(response.body.string);
  const tags = [...context.touched];
  const contentType = response.headers.get('content-type') ?? 'application/json; charset=utf-8';
  const stored: CompleteResponse = { kind: 'response', body: bytes, headers: cacheableHeaders(policy, tags, bytes, contentType, endpoint.headers), storedAt: Date.now(), tags };
  // Its L2 part is done when store() returns, before the response is sent: the next request here hits.
  const storing =
    responses && identity && execution && bytes.length <= limits.maxStoredResponseBytes
      ? responses.store(identity.hash, viewerKey, stored, storedTtlSeconds(policy, tags.filter(isTypeTag), endpoint.headers.policies), execution, policy.scope)
      : undefined;
  sendResponse(req, res, stored, 'MISS');
  await storing?.catch((error: unknown) => endpoint.logger.warn({ err: error }, 'response not stored'));
}

export function sendJsonError(res: ServerResponse, status: number, message: string, code = defaultCode(status)): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code } }] }));
}

// Private:

function defaultCode(status: number): string {
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  return status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST';
}

function sendBodyError(res: ServerResponse, error: BodyError): void {
  // The rest of the body is never read: the connection closes after the answer.
  if (error.close) res.setHeader('connection', 'close');
  sendJsonError(res, error.status, error.message, error.code);
}

function queryOf(body: unknown): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { query?: unknown }).query : undefined;
}

/**
 * The request's identity for the response tier, or undefined when the tier must not answer it.
 * Memoised by the request's exact text: a repeated request (the common case on a hit) costs one
 * Map lookup instead of a JSON parse, a canonical encoding and a hash.
 */
function identify(req: IncomingMessage, search: string, text: string | undefined, parseBody: () => unknown): RequestIdentity | undefined {
  // A hit must be refused exactly where Apollo would refuse the request. Only a JSON POST is read
  // as JSON (bodyFrom): the same text under another type is Apollo's to refuse, and must neither
  // hit nor leave a memo entry that the JSON request would then find.
  if (mayBeCrossSiteForgery(req.headers)) return undefined;
  if (req.method !== 'GET' && req.method !== 'POST') return undefined;
  if (req.method === 'POST' && !isJsonContentType(req.headers['content-type'])) return undefined;
  const raw = req.method === 'GET' ? search : text;
  const memoKey = raw !== undefined && raw.length <= MAX_MEMOISED_REQUEST_LENGTH ? `${req.method}\n${req.headers.accept ?? ''}\n${raw}` : undefined;
  const memoised = memoKey === undefined ? undefined : identities.get(memoKey);
  if (memoised !== undefined) return memoised === NOT_CACHEABLE ? undefined : memoised;
  let params: GraphQLParams | undefined;
  if (req.method === 'GET') {
    params = paramsFromSearch(new URLSearchParams(search));
  } else {
    const body = parseBody();
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && !(body instanceof BodyError)) params = body as GraphQLParams;
  }
  const identity = params ? requestIdentity(params, req.headers.accept) : undefined;
  if (memoKey !== undefined) identities.set(memoKey, identity ?? NOT_CACHEABLE);
  return identity;
}

const NOT_CACHEABLE = Symbol('not cacheable');
const UNPARSED = Symbol('not parsed yet');
/** Requests longer than this are not memoised: their text would cost more memory than hashing them costs time. */
const MAX_MEMOISED_REQUEST_LENGTH = 8 * 1024;
/** Bounded by the text it holds (8 MiB at most), not only by count. */
const identities = new LRUCache<string, RequestIdentity | typeof NOT_CACHEABLE>({ max: 10_000, maxSize: 8 * 1024 * 1024, sizeCalculation: (_, key) => key.length + 64 });

function sendResponse(req: IncomingMessage, res: ServerResponse, stored: CompleteResponse, source: 'HIT' | 'MISS'): void {
  const age = source === 'HIT' ? Math.max(0, Math.floor((Date.now() - stored.storedAt) / 1000)) : 0;
  const head = [...headerList(stored), 'x-response-cache', source];
  if (source === 'HIT') head.push('age', String(age));
  if (age > 0) head[head.indexOf('cache-control') + 1] = agedCacheControl(stored, age);
  // Only for GET: on other methods If-None-Match is a precondition, not a revalidation.
  if (req.method === 'GET' && ifNoneMatchHits(req.headers['if-none-match'], stored.headers.etag as string)) {
    head.splice(head.indexOf('content-type'), 2);
    res.writeHead(304, head);
    return void res.end();
  }
  res.writeHead(200, head);
  res.end(stored.body);
}

/** A stored response's headers as the flat list writeHead takes, made once per stored object. */
function headerList(stored: CompleteResponse): string[] {
  let list = headerLists.get(stored);
  if (list === undefined) {
    list = Object.entries(stored.headers).flat();
    headerLists.set(stored, list);
  }
  return list;
}

const headerLists = new WeakMap<CompleteResponse, string[]>();

/** cacheControlAtAge, computed once per stored object and age in seconds. */
function agedCacheControl(stored: CompleteResponse, age: number): string {
  const last = agedHeaders.get(stored);
  if (last?.age === age) return last.header;
  const header = cacheControlAtAge(stored.headers['cache-control'] as string, age);
  agedHeaders.set(stored, { age, header });
  return header;
}

const agedHeaders = new WeakMap<CompleteResponse, { age: number; header: string }>();

function sendUnauthorized(res: ServerResponse, error: InvalidTokenError): void {
  res.setHeader('www-authenticate', `Bearer error="invalid_token", error_description="${error.reason.replace(/["\\]/g, '')}"`);
  sendJsonError(res, 401, error.message, error.code);
}
