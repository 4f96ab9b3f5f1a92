import { context, propagation, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { deletePrefix, startTestApp, type TestApp } from '../support/testApp.ts';

/**
 * The span tree of the real app, with an in-memory exporter registered in this process: a cold query
 * goes through every step (request, response-tier lookup, operation, loader batches, database
 * loads), the same query warm ends at the lookup, and a mutation's invalidation has its span. Before
 * the provider is registered, the app serves as usual (the rest of the suite runs that way).
 */
const PRODUCT = `query ProductWithCategory($id: ID!) { product(id: $id) { id name category { id name } } }`;
const RENAME = `mutation Rename($id: ID!, $name: String!) { updateProduct(id: $id, input: { name: $name }) { id name } }`;

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
let t: TestApp;

beforeAll(async () => {
  t = await startTestApp({ RESPONSE_CACHE: 'on' });
});
afterAll(async () => {
  await t?.stop();
  trace.disable();
  context.disable();
  propagation.disable();
  await provider.shutdown();
  if (t) await deletePrefix(t.prefix);
});

it('serves as usual with no provider registered', async () => {
  const result = await t.query(PRODUCT, { id: 1 });
  expect(result.status).toBe(200);
  expect(result.body.data?.product.id).toBe('1');
  expect(exporter.getFinishedSpans()).toEqual([]);
});

describe('with an in-memory exporter', () => {
  beforeAll(() => {
    provider.register();
  });

  it('traces a cold query: request > lookup (miss), then operation > loader batches > database loads', async () => {
    const request = await traced(() => t.query(PRODUCT, { id: 3 }));
    expect(request.span.name).toBe('POST /graphql');
    expect(request.span.attributes).toMatchObject({ 'http.request.method': 'POST', 'http.route': '/graphql', 'http.response.status_code': 200 });

    const [lookup, operation, ...others] = request.children;
    expect(others).toEqual([]);
    expect(lookup?.span.name).toBe('response_tier.lookup');
    expect(lookup?.span.attributes['cache.status']).toBe('miss');
    expect(operation?.span.name).toBe('query');
    expect(operation?.span.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'ProductWithCategory' });

    const batches = descendants(operation!).filter((node) => node.span.name === 'cache.read_through');
    expect(batches.map((batch) => batch.span.attributes['cache.kind'])).toEqual(['Product', 'Category']);
    for (const batch of batches) {
      expect(batch.span.attributes).toMatchObject({ 'cache.keys': 1, 'cache.misses': 1, 'cache.hits.local': 0 });
      const loads = batch.children.filter((node) => node.span.name === 'cache.load');
      expect(loads).toHaveLength(1);
      expect(loads[0]?.span.attributes).toMatchObject({ 'cache.kind': batch.span.attributes['cache.kind'], 'cache.keys': 1, 'cache.load.reason': 'miss', 'db.response.returned_rows': 1 });
    }
  });

  it('traces the same query warm: request > lookup (hit), and nothing else', async () => {
    const request = await traced(() => t.query(PRODUCT, { id: 3 }));
    expect(request.children.map((node) => node.span.name)).toEqual(['response_tier.lookup']);
    expect(request.children[0]?.span.attributes).toMatchObject({ 'cache.status': 'hit', 'cache.tier': 'local' });
    expect(request.span.attributes['http.response.status_code']).toBe(200);
  });

  it("continues a caller's trace from its traceparent header", async () => {
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const request = await traced(() =>
      fetch(`${t.url}/graphql?query=${encodeURIComponent('{ category(id: 2) { id } }')}`, { headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01`, 'apollo-require-preflight': 'true' } }),
    );
    expect(request.span.name).toBe('GET /graphql');
    expect(request.span.spanContext().traceId).toBe(traceId);
    expect(request.span.parentSpanContext?.spanId).toBe('b7ad6b7169203331');
  });

  it("traces a mutation's invalidation under its operation, with tag counts and kinds (never the tags)", async () => {
    const request = await traced(() => t.mutate(RENAME, { id: 3, name: `Traced ${Date.now()}` }));
    const operation = request.children.find((node) => node.span.name === 'mutation');
    expect(operation?.span.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'Rename' });
    const invalidations = descendants(operation!).filter((node) => node.span.name === 'cache.invalidate');
    expect(invalidations).toHaveLength(1);
    const attributes = invalidations[0]!.span.attributes;
    expect(attributes['cache.tags']).toBeGreaterThan(0);
    expect(attributes['cache.tag_kinds']).toContain('entity');
    expect(Object.values(attributes).flat()).not.toContain('Product:3');
  });

  it('marks a failed operation as an error, with its code', async () => {
    const request = await traced(() => t.query(`query Broken { product(id: 1) { nope } }`));
    const [operation] = request.children.filter((node) => node.span.name === 'GraphQL Operation');
    expect(operation?.span.status.code).toBe(2);
    expect(operation?.span.attributes['error.type']).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});

// Private:

interface SpanNode {
  readonly span: ReadableSpan;
  /** In start order. */
  readonly children: SpanNode[];
}

/** Runs `send` and returns the tree of the one request span it made, once that span has ended. */
async function traced(send: () => Promise<unknown>): Promise<SpanNode> {
  exporter.reset();
  await send();
  // The request span ends after the response is sent (a response-tier store finishes behind it).
  const root = await vi.waitFor(() => {
    const roots = exporter.getFinishedSpans().filter((span) => span.name.endsWith(' /graphql'));
    expect(roots).toHaveLength(1);
    return roots[0]!;
  });
  return treeOf(root, exporter.getFinishedSpans());
}

function treeOf(span: ReadableSpan, spans: readonly ReadableSpan[]): SpanNode {
  const id = span.spanContext().spanId;
  const children = spans
    .filter((other) => other.parentSpanContext?.spanId === id)
    .sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])
    .map((child) => treeOf(child, spans));
  return { span, children };
}

function descendants(node: SpanNode): SpanNode[] {
  return node.children.flatMap((child) => [child, ...descendants(child)]);
}
