import { GraphQLError } from 'graphql';
import { SignJWT } from 'jose';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { clientErrorFormatter, shortened } from '../../src/http/clientErrors.ts';
import { startTestApp, useTestApp } from '../support/testApp.ts';
import { freePort } from '../support/ports.ts';
import { adminToken, TEST_TOKEN_SECRET } from '../support/tokens.ts';

/** Words that would tell a client about the server's insides. */
const INTERNALS = /prisma|invocation|ECONNREFUSED|Can't reach|127\.0\.0\.1|postgres|\bat \S+ \(|node_modules/i;

describe('client errors: what a client may see', () => {
  describe('the formatter', () => {
    const format = clientErrorFormatter(pino({ level: 'silent' }));

    it('masks anything that is not a GraphQLError raised on purpose', () => {
      const driver = new Error("Invalid `prisma.product.findMany()` invocation: Can't reach database server at 127.0.0.1:5499");
      const located = new GraphQLError(driver.message, { path: ['products'], originalError: driver });
      expect(format({ message: driver.message, path: ['products'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }, located)).toEqual({
        message: 'Internal server error',
        path: ['products'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
    });

    it('masks a GraphQLError that Apollo made around a thrown Error', () => {
      const thrown = new TypeError('x is undefined');
      const error = new GraphQLError(`Unexpected error processing request: ${thrown}`, { originalError: thrown });
      expect(format({ message: error.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }, error).message).toBe('Internal server error');
    });

    it('passes on a deliberate refusal that Apollo left uncoded, as BAD_REQUEST', () => {
      const error = new GraphQLError('provided sha does not match query', { extensions: { http: { status: 400 } } });
      expect(format({ message: error.message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }, error)).toEqual({
        message: 'provided sha does not match query',
        extensions: { code: 'BAD_REQUEST' },
      });
    });

    it('passes a deliberate error on, with long quoted values cut short', () => {
      const error = new GraphQLError('Argument "id" is bad.', { extensions: { code: 'BAD_USER_INPUT' } });
      expect(format({ message: error.message, extensions: { code: 'BAD_USER_INPUT' } }, error)).toEqual({ message: error.message, extensions: { code: 'BAD_USER_INPUT' } });
      const long = `Variable "$id" got invalid value "${'x'.repeat(900_000)}"; ID cannot represent value: "${'x'.repeat(900_000)}"`;
      const formatted = format({ message: long, extensions: { code: 'BAD_USER_INPUT' } }, new GraphQLError(long));
      expect(formatted.message.length).toBeLessThan(400);
      expect(formatted.message).toMatch(/^Variable "\$id" got invalid value "x{63}…" \(900000 characters\); ID cannot represent value: "x{63}…" \(900000 characters\)$/);
    });

    it('caps any message at 1000 characters', () => {
      expect(shortened('a'.repeat(5000))).toHaveLength(1001);
      expect(shortened('short "quoted"')).toBe('short "quoted"');
    });
  });

  describe('against a running server', () => {
    const app = useTestApp({ RESPONSE_CACHE: 'on' });

    it('echoes a 900 KB invalid value as a preview, not twice in full, whether graphql-js or a resolver refuses it', async () => {
      const coercion = await app().query(`query($n: Int) { products(first: $n) { id } }`, { n: 'x'.repeat(900_000) });
      expect(coercion.status).toBe(400);
      expect(JSON.stringify(coercion.body).length).toBeLessThan(2000);
      expect(coercion.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' } });
      const argument = await app().query(`query($id: ID!) { product(id: $id) { id } }`, { id: 'x'.repeat(900_000) });
      expect(argument.status).toBe(200);
      expect(JSON.stringify(argument.body).length).toBeLessThan(2000);
      expect(argument.body.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', argumentName: 'id' } });
    });

    it('refuses a token whose subject is past the id range with 401, never a database error', async () => {
      const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('2147483648').sign(new TextEncoder().encode(TEST_TOKEN_SECRET));
      const response = await app().query('{ me { id email } }', {}, token);
      expect(response.status).toBe(401);
      expect(response.body.errors?.[0]?.message).toMatch(/token subject is not a user id from 1 to 2147483647/);
      expect(JSON.stringify(response.body)).not.toMatch(/out of range/i);
    });

    it('answers variables that cannot be keyed (1e999, 100,000-deep) as Apollo would, never with a 500', async () => {
      const query = `query($id: ID!) { product(id: $id) { id } }`;
      let deep = '1';
      for (let i = 0; i < 100_000; i++) deep = `[${deep}]`;
      for (const variables of [`{"id":"1","x":1e999}`, `{"id":"1","x":${deep}}`, `{"id":1e999}`, `{"id":${deep}}`]) {
        const response = await fetch(`${app().url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"query":${JSON.stringify(query)},"variables":${variables}}` });
        expect(response.status, variables.slice(0, 40)).toBeLessThan(500);
        const body = (await response.json()) as { data?: unknown; errors: Array<{ extensions: { code: string } }> };
        if (response.status === 200 && body.data) expect(body.data).toEqual({ product: { id: '1' } });
        else expect(body.errors[0]?.extensions.code).toBe('BAD_USER_INPUT');
      }
    });

    it('keys a variable named __proto__ like any other: product 2 is never served from product 1’s entry', async () => {
      const query = `query P($__proto__: ID!) { product(id: $__proto__) { id name } }`;
      const one = await app().query(query, JSON.parse('{"__proto__":"1"}'));
      expect(one.body.data?.product.id).toBe('1');
      expect((await app().query(query, JSON.parse('{"__proto__":"1"}'))).headers.get('x-response-cache')).toBe('HIT');
      const two = await app().query(query, JSON.parse('{"__proto__":"2"}'));
      expect(two.headers.get('x-response-cache')).toBe('MISS');
      expect(two.body.data?.product.id).toBe('2');
    });

    it('answers a persisted-query hash that does not match, or a bad version, as the client’s error, logging no error', async () => {
      const errorsBefore = app().logs.filter((line) => typeof line.level === 'number' && line.level >= 50).length;
      for (const persistedQuery of [
        { version: 1, sha256Hash: 'zz' },
        { version: 2, sha256Hash: 'a'.repeat(64) },
      ]) {
        const response = await fetch(`${app().url}/graphql`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: '{ categories { id } }', extensions: { persistedQuery } }),
        });
        expect(response.status).toBe(400);
        const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
        expect(body.errors[0]?.extensions.code).toBe('BAD_REQUEST');
        expect(body.errors[0]?.message).not.toBe('Internal server error');
      }
      expect(app().logs.filter((line) => typeof line.level === 'number' && line.level >= 50).length).toBe(errorsBefore);
    });

    it('does not store a response whose request carries undeclared variables', async () => {
      const query = `query($id: ID!) { product(id: $id) { id } }`;
      for (let i = 0; i < 2; i++) {
        const response = await app().query(query, { id: '4', junk: `padding ${i}` });
        expect(response.body.data).toEqual({ product: { id: '4' } });
        expect(response.headers.get('x-response-cache')).toBeNull();
        expect(response.headers.get('cache-control')).toBe('no-store');
      }
      // The control: the same request without the junk is stored.
      await app().query(query, { id: '4' });
      expect((await app().query(query, { id: '4' })).headers.get('x-response-cache')).toBe('HIT');
    });
  });

  it('hides field suggestions in production, and keeps them in development', async () => {
    const production = await startTestApp({ NODE_ENV: 'production' });
    const development = await startTestApp({});
    try {
      const typo = '{ product(id: "1") { nam } }';
      expect((await production.query(typo)).body.errors?.[0]?.message).not.toMatch(/Did you mean/);
      expect((await development.query(typo)).body.errors?.[0]?.message).toMatch(/Did you mean "name"\?/);
    } finally {
      await production.stop();
      await development.stop();
    }
  });

  it('with PostgreSQL unreachable, answers a miss and a mutation with 503 SERVICE_UNAVAILABLE, without any driver text, in development too', async () => {
    const t = await startTestApp({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${await freePort()}/nowhere`, CACHE_TIERS: '' });
    try {
      const read = await t.query('{ product(id: "1") { id name } }');
      const write = await t.query(`mutation { updateProduct(id: "1", input: { name: "x" }) { id } }`, {}, await adminToken());
      for (const response of [read, write]) {
        expect(response.status).toBe(503);
        expect(response.body.errors?.[0]).toMatchObject({ extensions: { code: 'SERVICE_UNAVAILABLE', requestId: response.headers.get('x-request-id') } });
        expect(JSON.stringify(response.body)).not.toMatch(INTERNALS);
      }
      expect(write.body.errors?.[0]?.message).toMatch(/nothing was written/);
      // The operator still gets the whole story, under the id the client was given.
      const requestId = read.headers.get('x-request-id');
      expect(t.logs.some((line) => line.msg === 'database unavailable' && line.requestId === requestId && INTERNALS.test(JSON.stringify(line)))).toBe(true);
    } finally {
      await t.stop();
    }
  });
});
