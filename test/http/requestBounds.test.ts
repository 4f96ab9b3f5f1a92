import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { RawClient } from '../support/rawHttp.ts';
import { useTestApp, type TestApp } from '../support/testApp.ts';

function post(headers: Record<string, string | number>): string {
  const lines = Object.entries({ host: 'localhost', 'content-type': 'application/json', ...headers }).map(([name, value]) => `${name}: ${value}`);
  return `POST /graphql HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`;
}

const QUERY = JSON.stringify({ query: '{ product(id: "1") { id } }' });

describe('HTTP bounds: what one request can make the server read, hold and wait for', () => {
  const app = useTestApp({
    RESPONSE_CACHE: 'on',
    HTTP_HEADERS_TIMEOUT_MS: '500',
    HTTP_REQUEST_TIMEOUT_MS: '1000',
    MAX_RESPONSE_BYTES: '4096',
    RESPONSE_CACHE_MAX_BYTES: '1024',
  });

  it('refuses a declared 10 GiB body at once, and closes without reading it', async () => {
    const client = await RawClient.open(app().url);
    client.write(post({ 'content-length': 10 * 1024 ** 3 }));
    const answer = await client.waitForClose();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/connection: close/i);
    expect(answer).toContain('"code":"PAYLOAD_TOO_LARGE"');
    expect(answer).toContain('exceeds the maximum of 1048576 bytes');
  });

  it('answers Expect: 100-continue with 413 when the body would be too large, and with 100 when not', async () => {
    const large = await RawClient.open(app().url);
    large.write(post({ 'content-length': 2 * 1024 ** 2, expect: '100-continue' }));
    const refused = await large.waitForClose();
    expect(refused).toMatch(/^HTTP\/1\.1 413 /);
    expect(refused).not.toContain('100 Continue');

    const small = await RawClient.open(app().url);
    small.write(post({ 'content-length': Buffer.byteLength(QUERY), expect: '100-continue' }));
    expect(await small.waitFor(/100 Continue\r\n\r\n/)).toMatch(/^HTTP\/1\.1 100 Continue/);
    small.write(QUERY);
    expect(await small.waitFor(/"product"/)).toMatch(/HTTP\/1\.1 200 OK/);
    small.destroy();
  });

  it('refuses a chunked body as soon as it grows past the limit, and closes the connection', async () => {
    const client = await RawClient.open(app().url);
    client.write(post({ 'transfer-encoding': 'chunked' }));
    const chunk = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 5; i++) client.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const answer = await client.waitForClose();
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toContain('Request body exceeds the maximum of 1048576 bytes');
  });

  it('refuses a query text over 64 KiB with 413 before parsing it, naming the limit', async () => {
    const query = `{ product(id: "1") { id } } # ${'x'.repeat(70 * 1024)}`;
    const response = await fetch(`${app().url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
    expect(body.errors[0]?.extensions.code).toBe('QUERY_TOO_LARGE');
    expect(body.errors[0]?.message).toMatch(/Query text of \d+ bytes exceeds the maximum of 65536 bytes \(MAX_QUERY_BYTES\)/);
  });

  it('closes a connection whose body arrives too slowly (HTTP_REQUEST_TIMEOUT_MS), with 408', async () => {
    const client = await RawClient.open(app().url);
    client.write(post({ 'content-length': 100 }));
    client.write('{"query":');
    // Nothing more is sent: the server's own bound ends the conversation, not this test.
    const answer = await client.waitForClose();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('closes a connection whose headers never end (HTTP_HEADERS_TIMEOUT_MS)', async () => {
    const client = await RawClient.open(app().url);
    client.write('POST /graphql HTTP/1.1\r\nhost: localhost\r\n');
    const answer = await client.waitForClose();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('logs a client that hangs up mid-body at debug level, never as an error', async () => {
    const errorsBefore = errorLines(app()).length;
    const serverSide = new Promise<void>((resolve) => app().app.http.once('request', (req: IncomingMessage) => req.once('close', () => resolve())));
    const client = await RawClient.open(app().url);
    client.write(post({ 'content-length': 1000 }));
    client.write('{"query": "{ product(id: \\"1\\") { id } }", "variables": {');
    client.destroy();
    // The request's close comes after its abort; its handler's rejection settles within the turn.
    await serverSide;
    await new Promise((resolve) => setImmediate(resolve));
    expect(errorLines(app()).slice(errorsBefore)).toEqual([]);
    expect((await app().query('{ product(id: "1") { id } }')).status).toBe(200);
  });

  it('cuts off a query response over MAX_RESPONSE_BYTES with a 400 naming the budget, and never stores it', async () => {
    const big = `{ products(first: 100) { id name description } }`;
    for (let i = 0; i < 2; i++) {
      const response = await app().query(big);
      expect(response.status).toBe(400);
      expect(response.headers.get('x-response-cache')).toBeNull();
      expect(response.body.errors?.[0]).toMatchObject({ extensions: { code: 'RESPONSE_TOO_LARGE' } });
      expect(response.body.errors?.[0]?.message).toMatch(/Response of \d+ bytes exceeds the budget of 4096 bytes \(MAX_RESPONSE_BYTES\)/);
    }
  });

  it('serves, but does not store, a response over RESPONSE_CACHE_MAX_BYTES', async () => {
    const medium = `{ products(first: 40) { id name } }`;
    const first = await app().query(medium);
    expect(first.status).toBe(200);
    const size = JSON.stringify(first.body).length;
    expect(size).toBeGreaterThan(1024);
    expect(size).toBeLessThan(4096);
    expect((await app().query(medium)).headers.get('x-response-cache')).toBe('MISS');
    // The control: a small one is stored.
    const small = `{ product(id: "3") { id } }`;
    await app().query(small);
    expect((await app().query(small)).headers.get('x-response-cache')).toBe('HIT');
  });
});

function errorLines(t: TestApp) {
  return t.logs.filter((line) => typeof line.level === 'number' && line.level >= 50);
}
