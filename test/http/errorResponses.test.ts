import { describe, expect, it } from 'vitest';
import { headerOverflowResponse } from '../../src/http/clientErrorAnswer.ts';
import { APPLICATION_JSON, errorContentType, GRAPHQL_RESPONSE_JSON } from '../../src/http/errorResponses.ts';
import { acceptedRequestId } from '../../src/http/requestId.ts';
import { sendRaw } from '../support/rawHttp.ts';
import { startTestApp, useTestApp } from '../support/testApp.ts';

/** What Apollo Client 4 sends. */
const APOLLO_CLIENT_ACCEPT = 'application/graphql-response+json,application/json;q=0.9';

describe("the server's own error responses", () => {
  describe('their content type, chosen as Apollo chooses its own', () => {
    it.each([
      [undefined, APPLICATION_JSON],
      ['', APPLICATION_JSON],
      ['*/*', APPLICATION_JSON],
      ['application/json', APPLICATION_JSON],
      [APOLLO_CLIENT_ACCEPT, GRAPHQL_RESPONSE_JSON],
      ['application/graphql-response+json', GRAPHQL_RESPONSE_JSON],
      ['application/json, application/graphql-response+json', APPLICATION_JSON],
      ['application/graphql-response+json, application/json', GRAPHQL_RESPONSE_JSON],
      ['application/json;q=0.5, application/graphql-response+json', GRAPHQL_RESPONSE_JSON],
      ['application/graphql-response+json;q=0, */*', APPLICATION_JSON],
      ['application/graphql-response+json;q=0.8, application/*', APPLICATION_JSON],
      ['text/html', APPLICATION_JSON],
    ])('Accept %j: %s', (accept, expected) => {
      expect(errorContentType(accept)).toBe(expected);
    });
  });

  it('accepts an incoming request id only when it is a plain token of 8 to 64 characters', () => {
    expect(acceptedRequestId('3f2a9c1e-aaaa-4bbb-8ccc-0123456789ab')).toBe('3f2a9c1e-aaaa-4bbb-8ccc-0123456789ab');
    expect(acceptedRequestId('req_12345.abc')).toBe('req_12345.abc');
    for (const refused of [undefined, '', 'short', 'x'.repeat(65), 'has space 12345', 'a"b\\c12345', 'line\r\nbreak1', ['one-id-123', 'two-id-456']]) {
      expect(acceptedRequestId(refused)).toBeUndefined();
    }
  });

  it('takes the Accept and the request id of a 431 from the head only when their lines arrived whole', () => {
    const whole = headerOverflowResponse(Buffer.from(`GET /graphql?q=x HTTP/1.1\r\naccept: ${APOLLO_CLIENT_ACCEPT}\r\nx-request-id: abcdef123456\r\nx-pad: xxxx`));
    expect(whole).toMatch(/^HTTP\/1\.1 431 /);
    expect(whole).toContain(`Content-Type: ${GRAPHQL_RESPONSE_JSON}`);
    expect(whole).toContain('x-request-id: abcdef123456');
    const cut = headerOverflowResponse(Buffer.from('GET /graphql?q=x HTTP/1.1\r\nx-request-id: abcdef1234567\r\naccept: application/graphql-respo'));
    expect(cut).toContain(`Content-Type: ${APPLICATION_JSON}`);
    expect(cut).toContain('x-request-id: abcdef1234567');
  });

  describe('against a running server', () => {
    const app = useTestApp({ RESPONSE_CACHE: 'on' });

    it('gives every response an x-request-id, keeps a sane incoming one, and never replays one from the response tier', async () => {
      const url = `${app().url}/graphql?query=${encodeURIComponent('{ product(id: "5") { id } }')}`;
      const headers = { 'apollo-require-preflight': 'true' };
      const first = await fetch(url, { headers });
      const second = await fetch(url, { headers });
      expect(second.headers.get('x-response-cache')).toBe('HIT');
      expect(first.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(second.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      expect(second.headers.get('x-request-id')).not.toBe(first.headers.get('x-request-id'));
      const kept = await fetch(url, { headers: { ...headers, 'x-request-id': 'proxy-id-0001' } });
      expect(kept.headers.get('x-request-id')).toBe('proxy-id-0001');
      const replaced = await fetch(url, { headers: { ...headers, 'x-request-id': 'bad id "quoted"' } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const health = await fetch(`${app().url}/health/live`);
      expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('sends a 401 and a 413 as application/graphql-response+json to a client that accepts it, else as application/json', async () => {
      const send = (accept: string | undefined, init: { authorization?: string; body?: string }) =>
        fetch(`${app().url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}), ...(init.authorization ? { authorization: init.authorization } : {}) },
          body: init.body ?? JSON.stringify({ query: '{ product(id: "1") { id } }' }),
        });
      const forged = { authorization: 'Bearer not.a.token' };
      const tooLarge = { body: JSON.stringify({ query: `{ product(id: "1") { id } } #${'x'.repeat(70_000)}` }) };
      for (const [init, status, code] of [
        [forged, 401, 'UNAUTHENTICATED'],
        [tooLarge, 413, 'QUERY_TOO_LARGE'],
      ] as const) {
        for (const [accept, contentType] of [
          [APOLLO_CLIENT_ACCEPT, GRAPHQL_RESPONSE_JSON],
          [undefined, APPLICATION_JSON],
          ['application/json', APPLICATION_JSON],
        ] as const) {
          const response = await send(accept, init);
          expect(response.status).toBe(status);
          expect(response.headers.get('content-type')).toBe(contentType);
          const body = (await response.json()) as { errors: Array<{ extensions: { code: string; requestId: string } }> };
          expect(body.errors[0]?.extensions.code).toBe(code);
          expect(body.errors[0]?.extensions.requestId).toBe(response.headers.get('x-request-id'));
        }
      }
    });

    it('answers a 20 KB variable sent by GET with a JSON 431 that says to use POST', async () => {
      const variables = JSON.stringify({ id: '1', pad: 'x'.repeat(20_000) });
      const path = `/graphql?query=${encodeURIComponent('query($id: ID!) { product(id: $id) { id } }')}&variables=${encodeURIComponent(variables)}`;
      for (const [accept, contentType] of [
        [APOLLO_CLIENT_ACCEPT, GRAPHQL_RESPONSE_JSON],
        ['application/json', APPLICATION_JSON],
      ] as const) {
        const head = `GET ${path} HTTP/1.1\r\nhost: localhost\r\naccept: ${accept}\r\napollo-require-preflight: true\r\n\r\n`;
        const outcome = await sendRaw(app().url, Buffer.from(head), { then: 'wait', boundMs: 5000 });
        expect(outcome.kind).toBe('answered');
        if (outcome.kind !== 'answered') return;
        expect(outcome.status).toBe(431);
        expect(outcome.headers['connection']).toBe('close');
        const body = JSON.parse(outcome.text) as { errors: Array<{ message: string; extensions: { code: string; requestId: string } }> };
        expect(body.errors[0]?.message).toMatch(/by POST/);
        expect(body.errors[0]?.extensions.code).toBe('REQUEST_HEADERS_TOO_LARGE');
        expect(body.errors[0]?.extensions.requestId).toBe(outcome.headers['x-request-id']);
        // The Accept line is past the 20 KB URL: read when it arrived in the chunk the parser refused
        // (one write on loopback: it does), else the answer is application/json.
        expect(outcome.headers['content-type']).toBe(contentType);
      }
      // And with fetch, as a browser or Apollo Client would send it.
      const response = await fetch(`${app().url}${path}`, { headers: { accept: APOLLO_CLIENT_ACCEPT, 'apollo-require-preflight': 'true' } });
      expect(response.status).toBe(431);
      expect(((await response.json()) as { errors: Array<{ message: string }> }).errors[0]?.message).toMatch(/by POST/);
    });

    it('keeps Node’s own answer to other bad HTTP: 400 with no body', async () => {
      const outcome = await sendRaw(app().url, Buffer.from('NONSENSE\r\n\r\n'), { then: 'wait', boundMs: 5000 });
      expect(outcome).toMatchObject({ kind: 'answered', status: 400, text: '' });
    });
  });

  it('refuses a URL over MAX_URL_BYTES with a JSON 414 that says to use POST', async () => {
    const t = await startTestApp({ MAX_URL_BYTES: '4096' });
    try {
      const path = `/graphql?query=${encodeURIComponent('query($id: ID!) { product(id: $id) { id } }')}&variables=${encodeURIComponent(JSON.stringify({ id: '1', pad: 'x'.repeat(5000) }))}`;
      const response = await fetch(`${t.url}${path}`, { headers: { accept: APOLLO_CLIENT_ACCEPT, 'apollo-require-preflight': 'true' } });
      expect(response.status).toBe(414);
      expect(response.headers.get('content-type')).toBe(GRAPHQL_RESPONSE_JSON);
      const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(body.errors[0]?.message).toMatch(/MAX_URL_BYTES.*by POST/);
      expect(body.errors[0]?.extensions.code).toBe('URL_TOO_LONG');
    } finally {
      await t.stop();
    }
  });
});
