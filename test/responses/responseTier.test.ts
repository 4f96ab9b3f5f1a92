import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { HeardGenerations } from '../../src/cache/coherence/heardGenerations.ts';
import { LateFills } from '../../src/cache/coherence/lateFills.ts';
import { CacheKeys } from '../../src/cache/keys.ts';
import { MemoryTier } from '../../src/cache/tiers/memoryTier.ts';
import type { ResponsePolicy } from '../../src/responses/httpPolicy.ts';
import { ResponseTier, type Answer, type Exchange } from '../../src/responses/responseTier.ts';
import { responseKind, strongETag } from '../../src/responses/storedResponse.ts';
import { buildSchema } from '../../src/schema/schema.ts';

/**
 * ResponseTier.serve over a real local tier (MemoryTier) and the real late-fill protocol. The HTTP
 * exchange is a recording stand-in: what is at stake is what serve decides and writes, not sockets.
 */
const kind = responseKind(buildSchema());
const TAGS = ['Product:1', 'Product'];
const PUBLIC: ResponsePolicy = { maxAge: 60, scope: 'PUBLIC' };
const PRIVATE: ResponsePolicy = { maxAge: 60, scope: 'PRIVATE' };

interface Written {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function setup(options: { maxStoredBytes?: number } = {}) {
  let now = Date.UTC(2026, 0, 1);
  const local = new MemoryTier({ maxBytes: 1 << 20 });
  const lateFills = new LateFills({ local, log: local.log, heard: new HeardGenerations(), trusted: () => true });
  const tier = new ResponseTier({
    stack: { local, lateFills },
    keys: new CacheKeys(`test:responseTier:${Math.random()}:`),
    kind,
    tagLifetimeMs: () => 10 * 60_000,
    headers: { policies: new Map(), tagHeader: 'Cache-Tag' },
    maxStoredBytes: options.maxStoredBytes ?? 1 << 20,
    logger: pino({ level: 'silent' }),
    now: () => now,
  });
  let executions = 0;
  /** Serves one request; `answer` is what its execution returns (it runs only on a miss). */
  async function serve(request: Request = {}, answer: () => Answer | Promise<Answer> = () => cacheable('{"data":1}', PUBLIC)): Promise<Written & { executed: boolean }> {
    const before = executions;
    const { exchange, written } = recordingExchange(request);
    await tier.serve(exchange, async () => {
      executions += 1;
      return answer();
    });
    return { ...written(), executed: executions > before };
  }
  return { local, serve, advance: (ms: number) => (now += ms) };
}

interface Request {
  method?: 'GET' | 'POST';
  headers?: IncomingHttpHeaders;
  viewer?: string;
  /** The GraphQL query. @default "{ product(id: 1) { name } }" */
  query?: string;
}

function cacheable(body: string, policy: ResponsePolicy, tags: readonly string[] = TAGS): Answer {
  return { kind: 'cacheable', body, contentType: 'application/graphql-response+json; charset=utf-8', policy, tags };
}

/** An exchange whose response records the status, headers and body serve writes to it. */
function recordingExchange(request: Request): { exchange: Exchange; written: () => Written } {
  const method = request.method ?? 'GET';
  const query = request.query ?? '{ product(id: 1) { name } }';
  const search = method === 'GET' ? `?query=${encodeURIComponent(query)}` : '';
  const text = method === 'POST' ? JSON.stringify({ query }) : undefined;
  // A GET carries Apollo's preflight header, as a client's must (CSRF prevention).
  const headers: IncomingHttpHeaders = { ...(method === 'POST' ? { 'content-type': 'application/json' } : { 'apollo-require-preflight': 'true' }), ...request.headers };
  const req = { method, url: `/graphql${search}`, headers } as IncomingMessage;
  const written: Written = { status: 0, headers: {}, body: '' };
  const res = {
    // Nothing is set on it before serve: headers a request adds itself (CORS) are the HTTP layer's.
    getHeader: () => undefined,
    writeHead(status: number, list: string[]) {
      written.status = status;
      for (let i = 0; i < list.length; i += 2) written.headers[list[i]!] = list[i + 1]!;
      return res;
    },
    end(body?: Uint8Array) {
      if (body) written.body = Buffer.from(body).toString();
      return res;
    },
  } as unknown as ServerResponse;
  const exchange = { req, res, search, text, parseBody: () => (text ? JSON.parse(text) : undefined), viewer: request.viewer ?? 'anonymous' };
  return { exchange, written: () => written };
}

describe('ResponseTier.serve', () => {
  it('a miss executes, sends and stores; the same request then hits with the same bytes and no execution', async () => {
    const { serve, advance } = setup();
    const miss = await serve();
    expect(miss).toMatchObject({ executed: true, status: 200, body: '{"data":1}' });
    expect(miss.headers['x-response-cache']).toBe('MISS');
    advance(3_000);
    const hit = await serve();
    expect(hit).toMatchObject({ executed: false, status: 200, body: '{"data":1}' });
    expect(hit.headers).toMatchObject({ 'x-response-cache': 'HIT', age: '3', etag: miss.headers.etag });
  });

  it('a POST of the same operation is the same request', async () => {
    const { serve } = setup();
    await serve({ method: 'POST' });
    expect((await serve({ method: 'POST' })).executed).toBe(false);
  });

  it('a hit past the response’s max-age is a miss', async () => {
    const { serve, advance } = setup();
    await serve();
    advance(60_000);
    expect((await serve()).executed).toBe(true);
  });

  it('answers a GET whose If-None-Match names its ETag with a 304 and no body, on a miss and on a hit', async () => {
    const { serve } = setup();
    const revalidation = { headers: { 'if-none-match': strongETag(Buffer.from('{"data":1}')) } };
    expect(await serve(revalidation)).toMatchObject({ executed: true, status: 304, body: '' });
    const hit = await serve(revalidation);
    expect(hit).toMatchObject({ executed: false, status: 304, body: '' });
    expect(hit.headers['content-type']).toBeUndefined();
    expect(await serve({ headers: { 'if-none-match': '"another"' } })).toMatchObject({ executed: false, status: 200, body: '{"data":1}' });
    // On a POST, If-None-Match is a precondition, not a revalidation.
    expect((await serve({ method: 'POST', ...revalidation })).status).toBe(200);
  });

  it('never serves a private response to another viewer, and serves it again to its own', async () => {
    const { serve } = setup();
    const mine = () => cacheable('{"data":"mine"}', PRIVATE);
    await serve({ viewer: '1' }, mine);
    const other = await serve({ viewer: '2' }, () => cacheable('{"data":"theirs"}', PRIVATE));
    expect(other).toMatchObject({ executed: true, body: '{"data":"theirs"}' });
    expect(await serve({ viewer: '1' })).toMatchObject({ executed: false, body: '{"data":"mine"}' });
    expect(await serve({ viewer: '2' })).toMatchObject({ executed: false, body: '{"data":"theirs"}' });
    expect((await serve({ viewer: 'anonymous' }, () => cacheable('{"data":null}', PRIVATE))).executed).toBe(true);
  });

  it('refuses to store a response when one of its tags is invalidated during its execution', async () => {
    const { local, serve } = setup();
    const raced = await serve({}, async () => {
      await local.invalidateTags(['Product:1']);
      return cacheable('{"data":"old"}', PUBLIC);
    });
    // Sent, since it is this request's answer, but never to another.
    expect(raced).toMatchObject({ executed: true, body: '{"data":"old"}' });
    expect(await serve({}, () => cacheable('{"data":"new"}', PUBLIC))).toMatchObject({ executed: true, body: '{"data":"new"}' });
  });

  it('drops a stored response when one of its tags is invalidated', async () => {
    const { local, serve } = setup();
    await serve();
    await local.invalidateTags(['Product']);
    expect((await serve()).executed).toBe(true);
  });

  it('stores nothing it may not: max-age 0, a body over the bound, an answer the handler sent itself', async () => {
    const { serve } = setup({ maxStoredBytes: 16 });
    await serve({ query: '{ a }' }, () => cacheable('{}', { maxAge: 0, scope: 'PUBLIC' }));
    expect((await serve({ query: '{ a }' })).executed).toBe(true);
    await serve({ query: '{ b }' }, () => cacheable(`{"data":"${'x'.repeat(32)}"}`, PUBLIC));
    expect((await serve({ query: '{ b }' })).executed).toBe(true);
    await serve({ query: '{ c }' }, () => ({ kind: 'sent' }));
    expect((await serve({ query: '{ c }' })).executed).toBe(true);
  });

  it('does not answer what Apollo would refuse: a POST that is not JSON, a GET that may be cross-site', async () => {
    const { serve } = setup();
    await serve();
    expect((await serve({ method: 'POST', headers: { 'content-type': 'text/plain' } }, () => ({ kind: 'sent' }))).executed).toBe(true);
    expect((await serve({ headers: { 'apollo-require-preflight': '' } }, () => ({ kind: 'sent' }))).executed).toBe(true);
  });
});
