import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { context, createContextKey, propagation, SpanKind, SpanStatusCode, trace, type AttributeValue, type Span } from '@opentelemetry/api';
import { ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_URL_PATH } from '@opentelemetry/semantic-conventions';
import { tagKind } from '../cache/tags/tags.ts';

/**
 * The spans of one request, through @opentelemetry/api only. With no SDK registered (no
 * OTEL_EXPORTER_OTLP_ENDPOINT, see tracingSdk.ts; and the tests) every span is the API's
 * non-recording one: no attribute is built unless `span.isRecording()`, and the active-span helpers
 * read one context slot and stop there.
 *
 * The tree, for a response-tier miss: `POST /graphql` > `response_tier.lookup`, then `query` >
 * `cache.read_through` (one per loader batch) > `cache.load` (one per database load). A hit ends after
 * the lookup. A mutation's `cache.invalidate` runs under its `mutation` span.
 */

/** Read once: the package's version names the instrumentation (src/ and dist/ sit at the same depth). */
export const SERVICE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

const tracer = trace.getTracer('graphql-tiered-cache', SERVICE_VERSION);

/** Every span this server starts, by name (the operation's is renamed to its type once Apollo knows it). */
export const SPAN = {
  lookup: 'response_tier.lookup',
  operation: 'GraphQL Operation',
  batch: 'cache.read_through',
  load: 'cache.load',
  invalidate: 'cache.invalidate',
} as const;

/**
 * Attribute keys. GraphQL's and `db.response.returned_rows` are the semantic conventions' (still in
 * development there, so copied rather than imported from their incubating entry point); `cache.*` are
 * this server's own, as no convention covers a cache tier.
 */
export const ATTR = {
  cacheStatus: 'cache.status',
  cacheTier: 'cache.tier',
  kind: 'cache.kind',
  keys: 'cache.keys',
  hitsLocal: 'cache.hits.local',
  hitsShared: 'cache.hits.shared',
  misses: 'cache.misses',
  loadReason: 'cache.load.reason',
  returnedRows: 'db.response.returned_rows',
  tags: 'cache.tags',
  tagKinds: 'cache.tag_kinds',
  operationType: 'graphql.operation.type',
  operationName: 'graphql.operation.name',
} as const;

/**
 * Runs `fn` in a new span that is active while it runs, so spans started inside nest under it; ends
 * it when `fn` settles, a throw recorded as an exception and an ERROR status.
 */
export function inSpan<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, (span) => settle(span, fn));
}

/**
 * The request's SERVER span, around everything /graphql does; its parent is the caller's
 * `traceparent` when a propagator is registered. A 5xx is an error (a 4xx is the client's).
 */
export function inRequestSpan(req: IncomingMessage, res: ServerResponse, fn: () => Promise<void>): Promise<void> {
  const parent = propagation.extract(context.active(), req.headers);
  const name = req.method === 'GET' || req.method === 'POST' ? `${req.method} ${ROUTE}` : `HTTP ${ROUTE}`;
  return tracer.startActiveSpan(name, SERVER_SPAN, parent, (span) => {
    if (span.isRecording()) span.setAttributes({ [ATTR_HTTP_REQUEST_METHOD]: req.method ?? '_OTHER', [ATTR_HTTP_ROUTE]: ROUTE, [ATTR_URL_PATH]: ROUTE });
    return settle(span, async () => {
      await fn();
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    });
  });
}

/**
 * The GraphQL operation's span, around Apollo's execution: the resolvers' loader batches nest under
 * it. Apollo's hooks cannot make a span active, so the plugin (tracingPlugin.ts) finds this one with
 * {@link operationSpan} and names it.
 */
export function inOperationSpan<T>(fn: () => Promise<T>): Promise<T> {
  return inSpan(SPAN.operation, (span) => (span.isRecording() ? context.with(context.active().setValue(OPERATION_SPAN, span), fn) : fn()));
}

/** The operation span {@link inOperationSpan} started, when it records. */
export function operationSpan(): Span | undefined {
  return context.active().getValue(OPERATION_SPAN) as Span | undefined;
}

/** The response tier's lookup: not active (nothing nests under it), and ended by {@link endLookupSpan}, as a local hit finishes synchronously. */
export function startLookupSpan(): Span {
  return tracer.startSpan(SPAN.lookup);
}

/** `tier`: where a hit came from. */
export function endLookupSpan(span: Span, hit: boolean, tier: 'local' | 'shared'): void {
  if (span.isRecording()) {
    span.setAttribute(ATTR.cacheStatus, hit ? 'hit' : 'miss');
    if (hit) span.setAttribute(ATTR.cacheTier, tier);
  }
  span.end();
}

/** Sets an attribute on the active span (a loader batch's, a load's), when it records. */
export function traceAttribute(key: string, value: AttributeValue): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttribute(key, value);
}

/** A database load's returned rows: the values that are not `null` (no such row). */
export function traceReturnedRows(values: readonly unknown[]): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording())
    span.setAttribute(
      ATTR.returnedRows,
      values.reduce<number>((rows, value) => (value === null ? rows : rows + 1), 0),
    );
}

/** An invalidation's tags: how many, and their kinds (never the tags themselves, which name ids). */
export function traceInvalidatedTags(tags: readonly string[]): void {
  const span = trace.getActiveSpan();
  if (span?.isRecording()) span.setAttributes({ [ATTR.tags]: tags.length, [ATTR.tagKinds]: [...new Set(tags.map(tagKind))].sort() });
}

/** Marks a span failed, with the exception and its class as `error.type`. */
export function failSpan(span: Span, error: unknown): void {
  if (!span.isRecording()) return;
  if (error instanceof Error) span.recordException(error);
  span.setAttribute(ATTR_ERROR_TYPE, error instanceof Error ? error.constructor.name : 'unknown');
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

// Private:

const ROUTE = '/graphql';
const SERVER_SPAN = { kind: SpanKind.SERVER };
const OPERATION_SPAN = createContextKey('graphql-tiered-cache operation span');

async function settle<T>(span: Span, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await fn(span);
  } catch (error) {
    failSpan(span, error);
    throw error;
  } finally {
    span.end();
  }
}
