import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { expect } from 'vitest';
import type { AfterWriting, HangUpPoint } from '../support/rawHttp.ts';
import { TEST_TOKEN_SECRET } from '../support/tokens.ts';

/**
 * The fuzz test's hostile requests (./fuzz.test.ts): one generator per category, each request with
 * what its answer must be, and the plan of how many of each. fast-check generates them from a seed,
 * so a plan replays exactly.
 */

export const PRODUCT_QUERY = 'query P($id: ID!) { product(id: $id) { id name priceCents } }';
export const PROTO_QUERY = 'query P($__proto__: ID!) { product(id: $__proto__) { id name } }';
/** Seeded ids the fuzz's writes aim at, away from the low ids other files read. */
export const TARGET_PRODUCTS = { min: 100, max: 199 } as const;
const TARGET_REVIEWS = { min: 500, max: 999 } as const;
/** The users whose valid tokens the plan is given (PlanMaterial.validTokens). */
export const VALID_USERS = [2, 3, 4, 5, 6] as const;

type Category =
  | 'warm-up'
  | 'broken JSON'
  | 'wrong types'
  | 'huge numbers'
  | 'deep nesting'
  | 'alias flood'
  | 'directive flood'
  | 'depth flood'
  | 'huge strings'
  | 'bad UTF-8'
  | 'bearer tokens'
  | 'batches'
  | '__proto__ variables'
  | 'hostile GET'
  | 'anonymous mutations'
  | 'unknown fields'
  | 'content types'
  | 'malformed HTTP'
  | 'client hang-ups'
  | 'methods and paths'
  | 'persisted queries';

export interface HostileRequest {
  readonly category: Category;
  /** What was sent, short enough for a failure message. */
  readonly summary: string;
  readonly sending: Sending;
  readonly expect: Expectation;
}

type Sending =
  | {
      readonly kind: 'http';
      readonly method: string;
      readonly path: string;
      readonly headers: Readonly<Record<string, string>>;
      /** Made when sent: the largest bodies are not all held at once. */
      readonly body?: () => string | Buffer;
      /** Sent as a stream, so with no Content-Length (chunked). */
      readonly chunked?: boolean;
    }
  /** Bytes on a socket, for what fetch would refuse to send. `half-close` ends the socket after them (a request meant to be incomplete). */
  | { readonly kind: 'raw'; readonly bytes: () => Buffer; readonly then: AfterWriting }
  /** A client that goes away from a JSON POST of `body`: mid-body, before reading the answer, after sending, or mid-headers. */
  | { readonly kind: 'hang-up'; readonly how: HangUpPoint; readonly path: string; readonly body: string };

/** What this request's answer must be, beyond what every answer must be. */
export interface Expectation {
  readonly status?: readonly number[];
  readonly code?: readonly string[];
  /** The response's `data`, exactly. */
  readonly data?: unknown;
  /** Refused by Node's HTTP parser, which answers 400 with no body. */
  readonly nodeMayRefuse?: boolean;
  /**
   * Refused before it is read to its end (a body over MAX_BODY_BYTES: 413; headers over Node's
   * 16 KiB: 431), after which the connection is closed: a client still sending may get EPIPE or a
   * reset instead of the answer.
   */
  readonly mayBeCutOff?: boolean;
}

interface PlanMaterial {
  /** Put in every string a write would store, to find such rows afterwards. */
  readonly tag: string;
  readonly validTokens: ReadonlyMap<number, string>;
}

/** How many of each, in the order their seeds are derived (seed + index). */
const PLAN: ReadonlyArray<readonly [Category, number, (m: PlanMaterial) => fc.Arbitrary<HostileRequest>]> = [
  ['broken JSON', 400, brokenJson],
  ['wrong types', 400, wrongTypes],
  ['huge numbers', 300, hugeNumbers],
  ['deep nesting', 120, deepNesting],
  ['alias flood', 250, aliasFlood],
  ['directive flood', 250, directiveFlood],
  ['depth flood', 250, depthFlood],
  ['huge strings', 150, hugeStrings],
  ['bad UTF-8', 300, badUtf8],
  ['bearer tokens', 500, bearerTokens],
  ['batches', 200, batches],
  ['__proto__ variables', 250, protoVariables],
  ['hostile GET', 500, hostileGet],
  ['anonymous mutations', 500, anonymousMutations],
  ['unknown fields', 300, unknownFields],
  ['content types', 250, contentTypes],
  ['malformed HTTP', 150, malformedHttp],
  ['client hang-ups', 60, clientHangUps],
  ['methods and paths', 100, methodsAndPaths],
  ['persisted queries', 150, persistedQueries],
];

export function planSize(): number {
  return PLAN.reduce((sum, [, count]) => sum + count, 0);
}

export function hostilePlan(seed: number, material: PlanMaterial): HostileRequest[] {
  const plan = PLAN.flatMap(([, count, arbitrary], i) => fc.sample(arbitrary(material), { seed: seed + i, numRuns: count }));
  // Shuffled, so that every kind of request is in flight next to every other kind.
  return fc.sample(fc.shuffledSubarray(plan, { minLength: plan.length, maxLength: plan.length }), { seed, numRuns: 1 })[0] as HostileRequest[];
}

/** Valid requests, to run every code path a valid request takes before a baseline is measured. */
export function warmUp(): HostileRequest[] {
  return Array.from({ length: 300 }, (_, i) => {
    const query = [PRODUCT_QUERY, 'query L($first: Int) { products(first: $first) { id name category { name } } }', 'query C { categories { id name } }'][i % 3] as string;
    return requestsOf('warm-up').post(JSON.stringify({ query, variables: { id: String(1 + (i % 50)), first: 1 + (i % 20) } }), {});
  });
}

/** `value`, cut to `length` characters for a summary or a failure message. */
export function preview(value: string | Buffer, length = 160): string {
  const text = typeof value === 'string' ? value : `<${value.length} bytes> ${value.toString('utf8', 0, length)}`;
  return text.length <= length ? text : `${text.slice(0, length)}… (${text.length} characters)`;
}

// Private: one generator a category.

const JSON_HEADERS = { 'content-type': 'application/json' };
const VALID_QUERY = '{ product(id: "1") { id name } }';
const REFUSED = { status: [400], code: ['GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED'] } as const;

interface PostOptions {
  readonly headers?: Record<string, string>;
  /** Instead of the body's preview, for a generated or a long body. */
  readonly summary?: string;
}

/** Builders of one category's requests: a POST to /graphql (JSON unless told), a GET of /graphql with a query string. */
function requestsOf(category: Category) {
  return {
    post(body: string | Buffer | (() => string | Buffer), expectation: Expectation, { headers = JSON_HEADERS, summary }: PostOptions = {}): HostileRequest {
      const make = typeof body === 'function' ? body : () => body;
      return {
        category,
        summary: summary ?? `POST ${headersSummary(headers)} ${preview(typeof body === 'function' ? '(generated)' : body)}`,
        sending: { kind: 'http', method: 'POST', path: '/graphql', headers, body: make },
        expect: expectation,
      };
    },
    get(search: string, expectation: Expectation, headers: Record<string, string> = { 'apollo-require-preflight': 'true' }): HostileRequest {
      return { category, summary: `GET ${headersSummary(headers)} /graphql?${preview(search)}`, sending: { kind: 'http', method: 'GET', path: `/graphql?${search}`, headers }, expect: expectation };
    },
  };
}

function brokenJson(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('broken JSON');
  const valid = [JSON.stringify({ query: VALID_QUERY }), JSON.stringify({ query: PRODUCT_QUERY, variables: { id: '1' } }), '[{"query":"{ __typename }"}]'];
  const text = fc.oneof(
    fc.string({ maxLength: 200 }),
    fc.string({ unit: 'binary', maxLength: 200 }),
    fc.tuple(fc.constantFrom(...valid), fc.nat()).map(([body, n]) => body.slice(0, n % body.length)),
    fc
      .tuple(fc.constantFrom(...valid), fc.nat(), fc.constantFrom('{', '}', '"', ',', ':', '\\', '\u0000', '/*', 'NaN', 'undefined'))
      .map(([body, n, junk]) => body.slice(0, n % body.length) + junk + body.slice(n % body.length)),
    fc.constantFrom(
      '',
      ' ',
      '{',
      '{"query":}',
      '{"query": "{ __typename }",}',
      "{'query': '{ __typename }'}",
      '{"query": undefined}',
      '{"a":1}{"b":2}',
      '\uFEFF{"query":"{ __typename }"}',
      '{"query":"{ __typename }" /* c */}',
      '{"query":"\\x41"}',
      '{"query":"\\u12"}',
    ),
  );
  return text.filter(isNotJson).map((body) => post(body, { status: [400], code: ['BAD_REQUEST'] }));
}

function wrongTypes(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('wrong types');
  const scalar = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean());
  const notAString = fc.oneof(scalar, fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }));
  const notAnObject = fc.oneof(scalar, fc.string({ maxLength: 20 }), fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }));
  const body = fc.oneof(
    fc.record({ query: notAString, variables: fc.constantFrom(undefined, { id: '1' }) }),
    fc.record({ query: fc.constantFrom(VALID_QUERY, PRODUCT_QUERY), variables: notAnObject }),
    fc.record({ query: fc.constant(VALID_QUERY), operationName: notAString }),
    fc.record({ query: fc.constant(VALID_QUERY), extensions: notAnObject }),
    fc.record({ query: fc.constantFrom(null, '') }),
    fc.constantFrom({}, null, 'query', 1, true, []),
  );
  return body.map((value) => post(JSON.stringify(value), { status: [400], code: ['BAD_REQUEST'] }));
}

function hugeNumbers(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('huge numbers');
  const number = fc.oneof(
    fc.constantFrom('1e999', '-1e999', '1e-999', '-0', '1E400', '99999999999999999999999999', '2147483648', '-2147483649', '9007199254740993', '123456789012345678901234567890e-10', '0.1', '1.0'),
    fc.bigInt({ min: -(10n ** 40n), max: 10n ** 40n }).map(String),
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  );
  const templates: Array<(n: string) => string> = [
    (n) => `{"query":"query($f: Int){ products(first: $f) { id } }","variables":{"f":${n}}}`,
    (n) => `{"query":"query($id: ID!){ product(id: $id) { id } }","variables":{"id":${n}}}`,
    (n) => `{"query":"query($r: Int){ product(id: \\"1\\") { reviews(first: $r) { id } } }","variables":{"r":${n}}}`,
    (n) => JSON.stringify({ query: `{ products(first: ${n}) { id } }` }),
    (n) => JSON.stringify({ query: `{ product(id: ${n}) { id } }` }),
    (n) => `{"query":"{ __typename }","variables":{"n":${n}}}`,
    (n) => `{"query":"{ __typename }","extensions":{"n":${n}}}`,
  ];
  return fc.tuple(number, fc.constantFrom(...templates)).map(([n, template]) => post(template(n), { status: [200, 400] }));
}

function deepNesting(): fc.Arbitrary<HostileRequest> {
  const { post, get } = requestsOf('deep nesting');
  const nested = (shape: 'array' | 'object', depth: number) => (shape === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth));
  return fc
    .record({ depth: fc.constantFrom(1_000, 10_000, 100_000), shape: fc.constantFrom('array' as const, 'object' as const), where: fc.constantFrom('used', 'unused', 'extensions', 'GET', 'in the query') })
    .map(({ depth, shape, where }) => {
      const summary = `${where}: ${depth}-deep ${shape}`;
      const value = () => nested(shape, depth);
      switch (where) {
        case 'used':
          return post(() => `{"query":"query($x: ID!){ product(id: $x) { id } }","variables":{"x":${value()}}}`, { status: [400], code: ['BAD_USER_INPUT'] }, { summary });
        case 'unused':
          return post(() => `{"query":"{ __typename }","variables":{"x":${value()}}}`, { status: [200], data: { __typename: 'Query' } }, { summary });
        case 'extensions':
          return post(() => `{"query":"{ __typename }","extensions":{"x":${value()}}}`, { status: [200], data: { __typename: 'Query' } }, { summary });
        case 'GET':
          // The query string is bounded by Node's 16 KiB header limit: a deeper one is a 431.
          return get(`query=${encodeURIComponent('{ __typename }')}&variables=${encodeURIComponent(`{"x":${nested(shape, Math.min(depth, 1_000))}}`)}`, { status: [200] });
        default:
          return post(() => JSON.stringify({ query: `{ product(id: ${shape === 'array' ? nested('array', depth) : '{a:'.repeat(depth) + '1' + '}'.repeat(depth)}) { id } }` }), { status: [400, 413] }, { summary });
      }
    });
}

function aliasFlood(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('alias flood');
  const field = fc.constantFrom('product(id: "1") { id }', 'categories { id }', 'me { id }', 'product(id: "2") { name }', 'user(id: "1") { name }');
  return fc.record({ n: fc.integer({ min: 16, max: 150 }), field, viaFragment: fc.boolean() }).map(({ n, field, viaFragment }) => {
    const aliases = Array.from({ length: n }, (_, i) => `a${i}: ${field}`).join(' ');
    const query = viaFragment ? `query { ...F } fragment F on Query { ${aliases} }` : `{ ${aliases} }`;
    return post(JSON.stringify({ query }), REFUSED, { summary: `POST ${n} aliases of ${field}${viaFragment ? ' in a fragment' : ''}` });
  });
}

function directiveFlood(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('directive flood');
  const directive = fc.constantFrom('@include(if: true)', '@skip(if: false)', '@deprecated', '@unknown', '@cacheControl(maxAge: 1)', '@include(if: $t)');
  return fc.record({ n: fc.integer({ min: 51, max: 250 }), directive, onOperation: fc.boolean() }).map(({ n, directive, onOperation }) => {
    const many = `${directive} `.repeat(n);
    const query = onOperation ? `query Q($t: Boolean = true) ${many}{ product(id: "1") { id } }` : `query Q($t: Boolean = true) { product(id: "1") ${many}{ id } }`;
    return post(JSON.stringify({ query }), REFUSED, { summary: `POST ${n} x ${directive} on the ${onOperation ? 'operation' : 'field'}` });
  });
}

function depthFlood(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('depth flood');
  const nestings: Record<string, (depth: number) => string> = {
    'product -> reviews -> product': (d) => `{ product(id: "1") ${'{ reviews { product '.repeat(d)}{ id }${' } }'.repeat(d)} }`,
    'category -> products -> category': (d) => `{ category(id: "1") ${'{ products { category '.repeat(d)}{ id }${' } }'.repeat(d)} }`,
    'fragments, one level each': (d) =>
      `query { product(id: "1") { ...F0 } } ${Array.from({ length: d }, (_, i) => `fragment F${i} on Product { reviews { product { ${i + 1 < d ? `...F${i + 1}` : 'id'} } } }`).join(' ')}`,
    introspection: (d) => `{ __schema { types { ${'fields { type { ofType '.repeat(d)}{ name }${' } }'.repeat(d)} } } }`,
  };
  return fc
    .record({ depth: fc.integer({ min: 4, max: 60 }), kind: fc.constantFrom(...Object.keys(nestings)) })
    .map(({ depth, kind }) => post(JSON.stringify({ query: (nestings[kind] as (d: number) => string)(depth) }), REFUSED, { summary: `POST ${kind}, ${depth} times` }));
}

function hugeStrings(m: PlanMaterial): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('huge strings');
  const unit = fc.constantFrom('x', 'é', '漢', '😀', '"', '\\', '\n');
  const within = fc.record({ bytes: fc.integer({ min: 50_000, max: 900_000 }), unit, use: fc.constantFrom('unused', 'as an id', 'as a cursor', 'in an anonymous write') }).map(({ bytes, unit, use }) => {
    // The unit's size as JSON sends it (an escape for a quote, a backslash or a newline), quotes aside.
    const text = () => unit.repeat(Math.floor(bytes / (Buffer.byteLength(JSON.stringify(unit)) - 2)));
    const query = {
      unused: 'query($s: String) { __typename }',
      'as an id': 'query($s: ID!) { product(id: $s) { id } }',
      'as a cursor': 'query($s: ID) { products(first: 1, after: $s) { id } }',
      'in an anonymous write': 'mutation($s: String!) { createProduct(input: { sku: "x", name: $s, description: "", priceCents: 1, stock: 1, categoryId: "1" }) { id } }',
    }[use];
    const expectation: Expectation = use === 'in an anonymous write' ? { status: [401], code: ['UNAUTHENTICATED'] } : { status: [200, 400] };
    return post(() => JSON.stringify({ query, variables: { s: `${m.tag}${text()}` } }), expectation, { summary: `POST a ${bytes}-byte string of ${JSON.stringify(unit)} ${use}` });
  });
  const longQuery = fc
    .integer({ min: 65_537, max: 900_000 })
    .map((bytes) => post(() => JSON.stringify({ query: `{ __typename } #${'x'.repeat(bytes)}` }), { status: [413], code: ['QUERY_TOO_LARGE'] }, { summary: `POST a query text of ${bytes} bytes` }));
  const overBody = fc.record({ bytes: fc.integer({ min: 1_048_577, max: 1_400_000 }), chunked: fc.boolean() }).map(({ bytes, chunked }): HostileRequest => ({
    category: 'huge strings',
    summary: `POST a ${bytes}-byte body${chunked ? ', chunked' : ''}`,
    sending: { kind: 'http', method: 'POST', path: '/graphql', headers: JSON_HEADERS, chunked, body: () => JSON.stringify({ query: '{ __typename }', variables: { s: 'x'.repeat(bytes) } }) },
    expect: { status: [413], code: ['PAYLOAD_TOO_LARGE'], mayBeCutOff: true },
  }));
  return fc.oneof({ arbitrary: within, weight: 6 }, { arbitrary: longQuery, weight: 2 }, { arbitrary: overBody, weight: 2 });
}

function badUtf8(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('bad UTF-8');
  const invalid = fc.oneof(
    fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3], [0xe2, 0x82], [0x80], [0xfe, 0xff], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]),
    fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 8 }),
  );
  const templates: Array<readonly [string, string]> = [
    ['{"query":"{ product(id: \\"1\\") { id ', ' } }"}'],
    ['{"query":"query($id: ID!) { product(id: $id) { id } }","variables":{"id":"', '"}}'],
    ['{"query":"{ __typename }","variables":{"', '":1}}'],
    ['{"query":"{ __typename }"', '}'],
    ['', '{"query":"{ __typename }"}'],
    ['{"query":"{ __typename } #', '"}'],
    ['{"operationName":"', '","query":"query A { __typename }"}'],
  ];
  return fc
    .tuple(fc.constantFrom(...templates), invalid)
    .map(([[head, tail], bytes]) =>
      post(Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]), { status: [200, 400] }, { summary: `POST ${preview(head)}<${Buffer.from(bytes).toString('hex')}>${preview(tail)}` }),
    );
}

function bearerTokens(m: PlanMaterial): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('bearer tokens');
  const now = Math.floor(Date.now() / 1000);
  const anotherSecret = 'another-secret-that-signs-nothing-here-0123456789';
  const refused = { status: [401], code: ['UNAUTHENTICATED'] } as const;
  const ask = (authorization: string, expectation: Expectation, what: string) =>
    post(JSON.stringify({ query: '{ me { id } }' }), expectation, { headers: { ...JSON_HEADERS, authorization }, summary: `POST { me { id } } with ${what}: ${preview(authorization, 80)}` });
  const badSubjects = ['2147483648', '0', '-1', '01', '1.5', '1e3', ' 1', 'abc', '', '9'.repeat(400), '2147483648000'];
  const forged = fc.oneof(
    fc
      .record({ sub: fc.constantFrom('1', '2', ...badSubjects), role: fc.constantFrom(undefined, 'admin') })
      .map((p) => ask(`Bearer ${signJwt({ alg: 'HS256', typ: 'JWT' }, p, anotherSecret)}`, refused, 'another secret')),
    fc.constantFrom('none', 'None', 'NONE').map((alg) => ask(`Bearer ${jwt({ alg }, { sub: '1', role: 'admin' }, '')}`, refused, `alg ${alg}`)),
    fc.constantFrom('HS384', 'HS512', 'RS256', 'ES256', 'hs256').map((alg) => ask(`Bearer ${signJwt({ alg }, { sub: '1' }, TEST_TOKEN_SECRET)}`, refused, `alg ${alg}`)),
    fc.constantFrom(...badSubjects).map((sub) => ask(`Bearer ${signJwt({ alg: 'HS256' }, { sub }, TEST_TOKEN_SECRET)}`, refused, `sub ${JSON.stringify(sub)}`)),
    fc.constantFrom<unknown>(1, 2147483648, null, ['1'], [1], { id: 1 }, true).map((sub) => ask(`Bearer ${signJwt({ alg: 'HS256' }, { sub }, TEST_TOKEN_SECRET)}`, refused, `sub ${JSON.stringify(sub)}`)),
    fc.integer({ min: 1, max: 10 ** 6 }).map((ago) => ask(`Bearer ${signJwt({ alg: 'HS256' }, { sub: '2', exp: now - ago }, TEST_TOKEN_SECRET)}`, refused, `expired ${ago} s ago`)),
    fc.constantFrom<unknown>('ADMIN', 'root', ['admin'], 1, null).map((role) => ask(`Bearer ${signJwt({ alg: 'HS256' }, { sub: '2', role }, TEST_TOKEN_SECRET)}`, refused, `role ${JSON.stringify(role)}`)),
    fc.constantFrom<unknown>('x', Infinity, -1).map((nbf) => ask(`Bearer ${signJwt({ alg: 'HS256' }, { sub: '2', nbf: nbf === -1 ? now + 3600 : nbf }, TEST_TOKEN_SECRET)}`, refused, `nbf ${String(nbf)}`)),
    fc.record({ which: fc.constantFrom(...VALID_USERS), at: fc.nat() }).map(({ which, at }) => ask(`Bearer ${tampered(m.validTokens.get(which) as string, at)}`, refused, 'a tampered token')),
  );
  const garbage = fc
    .oneof(
      fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'), maxLength: 300 }).map((token) => `Bearer ${token}`),
      fc.string({ maxLength: 100 }).map((text) => `Bearer ${text}`),
      fc.constantFrom('Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Token abc', 'bearer', 'Bearer a b c', `Bearer ${'a'.repeat(8_000)}`, 'Bearer ..', 'Bearer e30.e30.', 'Bearer e30.e30.e30', '\tBearer\t'),
    )
    .map((authorization) => ask(authorization, refused, 'garbage'));
  // A header past Node's 16 KiB limit never reaches the server's code.
  const oversized = fc.integer({ min: 17_000, max: 40_000 }).map((n) => ask(`Bearer ${'a'.repeat(n)}`, { status: [431], nodeMayRefuse: true, mayBeCutOff: true }, `a ${n}-character token`));
  // Valid tokens, among the forged ones: each must get its own viewer, whatever the response tier holds.
  const valid = fc.oneof(
    fc.constantFrom(...VALID_USERS).map((id) => ask(`Bearer ${m.validTokens.get(id)}`, { status: [200], data: { me: { id: String(id) } } }, `user ${id}'s token`)),
    fc.constantFrom(...VALID_USERS).map((id) => ask(`bearer   ${m.validTokens.get(id)}`, { status: [200], data: { me: { id: String(id) } } }, `user ${id}'s token, lower-case scheme`)),
    fc.constant(ask(`Bearer ${signJwt({ alg: 'HS256' }, { sub: '2147483647' }, TEST_TOKEN_SECRET)}`, { status: [200], data: { me: null } }, 'sub 2147483647, a user id that exists nowhere')),
  );
  return fc.oneof({ arbitrary: forged, weight: 5 }, { arbitrary: garbage, weight: 2 }, { arbitrary: oversized, weight: 1 }, { arbitrary: valid, weight: 2 });
}

function batches(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('batches');
  const operation = fc.constantFrom({ query: VALID_QUERY }, { query: 'mutation { deleteProduct(id: "150") }' }, { query: PRODUCT_QUERY, variables: { id: '2' } }, {}, 1, null, []);
  return fc
    .array(operation, { maxLength: 1_000 })
    .map((operations) => post(JSON.stringify(operations), { status: [400], code: ['BAD_REQUEST'] }, { summary: `POST a batch of ${operations.length}: ${preview(JSON.stringify(operations), 100)}` }));
}

function protoVariables(): fc.Arbitrary<HostileRequest> {
  const { post, get } = requestsOf('__proto__ variables');
  const id = fc.integer({ min: 1, max: 20 }).map(String);
  const product = (id: string) => ({ status: [200], data: { product: { id } } });
  return fc.oneof(
    id.map((id) => post(`{"query":${JSON.stringify(PROTO_QUERY.replace(' name', ''))},"variables":{"__proto__":"${id}"}}`, product(id))),
    id.map((id) => post(`{"query":"query($id: ID!) { product(id: $id) { id } }","variables":{"__proto__":{"id":"99"},"id":"${id}"}}`, product(id))),
    id.map((id) => post(`{"query":"query($id: ID!) { product(id: $id) { id } }","variables":{"constructor":{"prototype":{"id":"99"}},"id":"${id}"}}`, product(id))),
    id.map((id) => post(`{"query":"query($constructor: ID!) { product(id: $constructor) { id } }","variables":{"constructor":"${id}"}}`, product(id))),
    id.map((id) => get(`query=${encodeURIComponent(PROTO_QUERY.replace(' name', ''))}&variables=${encodeURIComponent(`{"__proto__":"${id}"}`)}`, product(id))),
    fc
      .constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty')
      .map((name) => post(JSON.stringify({ query: 'query A { __typename }', operationName: name }), { status: [400], code: ['OPERATION_RESOLUTION_FAILURE', 'BAD_REQUEST'] })),
    fc.constant(post('{"query":"{ __typename }","variables":{"__proto__":null},"extensions":{"__proto__":{"persistedQuery":1}}}', { status: [200], data: { __typename: 'Query' } })),
    fc.constant(post('{"query":"mutation { deleteProduct(id: \\"150\\") }","variables":{"__proto__":{"role":"ADMIN","userId":1}}}', { status: [401], code: ['UNAUTHENTICATED'] })),
  );
}

function hostileGet(): fc.Arbitrary<HostileRequest> {
  const { get } = requestsOf('hostile GET');
  const e = encodeURIComponent;
  const part = fc.oneof(
    fc.constantFrom(
      'query=%ZZ',
      'query=%',
      'query=%E0%A4%A',
      'query=%7B__typename%7D',
      `query=${e(VALID_QUERY)}`,
      `query=${e('mutation { deleteProduct(id: "150") }')}`,
      'variables=%7B',
      `variables=${e('1e999')}`,
      `variables=${e('[1]')}`,
      `variables=${e('"x"')}`,
      `variables=${e('{"id":1e999}')}`,
      `extensions=${e('{"persistedQuery":{"version":1,"sha256Hash":"zz"}}')}`,
      `extensions=${e('[]')}`,
      `operationName=${e('__proto__')}`,
      '__proto__[x]=1',
      'query[]=a',
      '=&=&&',
      'query',
      'query=',
      `query=${e('{ product(id: "1") { id } }')}&query=${e('{ __typename }')}`,
    ),
    fc.string({ maxLength: 60 }).map((s) => `query=${e(s)}`),
    fc.string({ maxLength: 60 }).map((s) => `variables=${e(s)}`),
    fc
      .string({ unit: 'binary', maxLength: 40 })
      .filter((s) => !/\p{Surrogate}/u.test(s))
      .map((s) => `${e(s)}=${e(s)}`),
  );
  const headers = fc.constantFrom<Record<string, string>>(
    { 'apollo-require-preflight': 'true' },
    {},
    { 'apollo-require-preflight': 'true', accept: 'application/graphql-response+json' },
    { 'apollo-require-preflight': 'true', accept: 'text/html' },
    { 'content-type': 'text/plain' },
    { 'x-apollo-operation-name': 'x', 'if-none-match': '*' },
  );
  // 304: `If-None-Match: *` matches whatever the server holds.
  const composed = fc.tuple(fc.array(part, { maxLength: 5 }), headers).map(([parts, headers]) => get(parts.join('&'), { status: [200, 304, 400, 404, 405, 406, 415] }, headers));
  // A parameter given twice is refused by Apollo, so the response tier must not answer it either, even
  // when the first value names a request it holds (the valid query, answered before the fuzz).
  const twice = fc
    .constantFrom<Array<[string, string]>>(
      [['query', '{ __typename }']],
      [['variables', '{"id":"2"}']],
      [
        ['operationName', 'P'],
        ['operationName', 'P'],
      ],
      [
        ['extensions', '{}'],
        ['extensions', '{}'],
      ],
    )
    .map((extra) => get(new URLSearchParams([['query', PRODUCT_QUERY], ['variables', '{"id":"1"}'], ...extra]).toString(), { status: [400], code: ['BAD_REQUEST'] }));
  const tooLong = fc.integer({ min: 17_000, max: 60_000 }).map((n) => get(`query=${'x'.repeat(n)}`, { status: [431], nodeMayRefuse: true, mayBeCutOff: true }));
  const valid = fc
    .record({ id: fc.integer({ min: 1, max: 20 }), accept: fc.constantFrom('application/json', 'application/graphql-response+json', '*/*') })
    .map(({ id, accept }) =>
      get(
        `query=${e(PRODUCT_QUERY)}&variables=${e(JSON.stringify({ id: String(id) }))}`,
        { status: [200], data: { product: { id: String(id), name: expect.any(String), priceCents: expect.any(Number) } } },
        { 'apollo-require-preflight': 'true', accept },
      ),
    );
  return fc.oneof({ arbitrary: composed, weight: 8 }, { arbitrary: twice, weight: 1 }, { arbitrary: tooLong, weight: 1 }, { arbitrary: valid, weight: 2 });
}

function anonymousMutations(m: PlanMaterial): fc.Arbitrary<HostileRequest> {
  const { post, get } = requestsOf('anonymous mutations');
  const product = fc.integer(TARGET_PRODUCTS).map(String);
  const review = fc.integer(TARGET_REVIEWS).map(String);
  const input = (n: number) => `{ sku: "${m.tag}-${n}", name: "${m.tag}", description: "${m.tag}", priceCents: 1, stock: 1, categoryId: "1" }`;
  const write = fc.oneof(
    fc.nat().map((n) => `createProduct(input: ${input(n)}) { id }`),
    product.map((id) => `updateProduct(id: "${id}", input: { name: "${m.tag}" }) { id }`),
    product.map((id) => `deleteProduct(id: "${id}")`),
    product.map((id) => `createReview(input: { productId: "${id}", rating: 5, body: "${m.tag}" }) { id }`),
    review.map((id) => `deleteReview(id: "${id}")`),
  );
  const operation = fc.oneof(
    fc.array(write, { minLength: 1, maxLength: 5 }).map((fields) => `mutation { ${fields.map((f, i) => `w${i}: ${f}`).join(' ')} }`),
    write.map((field) => `mutation { recordProductView(id: "150") ${field} }`),
    write.map((field) => `mutation { ...M } fragment M on Mutation { ${field} }`),
    write.map((field) => `mutation { __typename ${field} }`),
    write.map((field) => `mutation W { ... on Mutation { ${field} } }`),
  );
  const refused = { status: [401], code: ['UNAUTHENTICATED'] } as const;
  const withVariables = fc.nat().map((n) =>
    post(
      JSON.stringify({
        query: 'mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }',
        variables: { input: { sku: `${m.tag}-v${n}`, name: m.tag, description: m.tag, priceCents: 1, stock: 1, categoryId: '1' } },
      }),
      refused,
    ),
  );
  const chosen = product.map((id) => post(JSON.stringify({ query: `query Q { __typename } mutation M { deleteProduct(id: "${id}") }`, operationName: 'M' }), refused));
  const tooMany = fc.array(write, { minLength: 6, maxLength: 12 }).map((fields) => post(JSON.stringify({ query: `mutation { ${fields.map((f, i) => `w${i}: ${f}`).join(' ')} }` }), REFUSED));
  // A signed-in USER asking for an ADMIN write: 403, and nothing written either.
  const asUser = fc
    .tuple(fc.constantFrom(...VALID_USERS), product)
    .map(([user, id]) =>
      post(
        JSON.stringify({ query: `mutation { updateProduct(id: "${id}", input: { name: "${m.tag}" }) { id } }` }),
        { status: [403], code: ['FORBIDDEN'] },
        { headers: { ...JSON_HEADERS, authorization: `Bearer ${m.validTokens.get(user)}` } },
      ),
    );
  const overGet = operation.map((query) => get(`query=${encodeURIComponent(query)}`, { status: [405], code: ['BAD_REQUEST'] }));
  return fc.oneof(
    { arbitrary: operation.map((query) => post(JSON.stringify({ query }), refused)), weight: 10 },
    { arbitrary: withVariables, weight: 2 },
    { arbitrary: chosen, weight: 1 },
    { arbitrary: tooMany, weight: 1 },
    { arbitrary: asUser, weight: 2 },
    { arbitrary: overGet, weight: 1 },
  );
}

function unknownFields(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('unknown fields');
  const known = new Set([
    'product',
    'products',
    'category',
    'categories',
    'user',
    'me',
    'id',
    'sku',
    'name',
    'description',
    'priceCents',
    'stock',
    'viewCount',
    'updatedAt',
    'reviews',
    'rating',
    'body',
    'author',
    'slug',
    'email',
    'first',
    'after',
    'categoryId',
    'input',
    'Product',
    'Category',
    'Review',
    'User',
    'Query',
    'Mutation',
    'String',
    'Int',
    'ID',
    'Boolean',
    'Float',
  ]);
  const misspelt = fc
    .tuple(fc.constantFrom(...known), fc.nat(), fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCXYZ_0'), fc.constantFrom('insert', 'drop', 'replace'))
    .map(([name, at, char, how]) => {
      const i = at % (name.length + 1);
      if (how === 'insert') return name.slice(0, i) + char + name.slice(i);
      if (how === 'drop') return name.slice(0, i) + name.slice(i + 1);
      return name.slice(0, i) + char + name.slice(i + 1);
    })
    .filter((name) => /^[A-Za-z][_0-9A-Za-z]*$/.test(name) && !known.has(name));
  const queries: Array<(name: string) => string> = [
    (n) => `{ ${n} }`,
    (n) => `{ product(id: "1") { ${n} } }`,
    (n) => `{ product(${n}: "1") { id } }`,
    (n) => `query($x: ${n}) { product(id: $x) { id } }`,
    (n) => `{ product(id: "1") { ... on ${n} { id } } }`,
    (n) => `{ product(id: "1") { reviews { ${n} } } }`,
  ];
  return fc.tuple(misspelt, fc.constantFrom(...queries)).map(([name, query]) => post(JSON.stringify({ query: query(name) }), REFUSED));
}

function contentTypes(): fc.Arbitrary<HostileRequest> {
  const { post } = requestsOf('content types');
  const simple = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'];
  const type = fc.constantFrom(
    undefined,
    ...simple,
    'application/graphql',
    'application/xml',
    '',
    'application/json; charset=utf-16',
    'application/jsonx',
    'APPLICATION/JSON',
    'application/json;;;',
    'application/*',
    '*/*',
    'application/graphql-response+json',
    'text/json',
    'application/json; boundary=--x',
  );
  const body = fc.constantFrom(JSON.stringify({ query: VALID_QUERY }), 'query=%7B__typename%7D', '{ __typename }', '--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query":"{ __typename }"}\r\n--x--');
  return fc.record({ type, preflight: fc.boolean(), body }).map(({ type, preflight, body }) => {
    const headers: Record<string, string> = { ...(type === undefined ? {} : { 'content-type': type }), ...(preflight ? { 'apollo-require-preflight': 'true' } : {}) };
    // Apollo's CSRF prevention: a "simple" request (one a browser sends cross-site without asking) is refused.
    const csrf = !preflight && (type === undefined || simple.some((s) => type.toLowerCase().startsWith(s.split(';')[0] as string)));
    // Sent as bytes, so fetch adds no content type of its own.
    return post(Buffer.from(body), csrf ? { status: [400], code: ['BAD_REQUEST'] } : { status: [200, 400, 415] }, {
      headers,
      summary: `POST content-type ${JSON.stringify(type)}${preflight ? ' with preflight' : ''}: ${preview(body, 60)}`,
    });
  });
}

function malformedHttp(): fc.Arbitrary<HostileRequest> {
  const host = 'Host: 127.0.0.1\r\n';
  const valid = '{"query":"{ __typename }"}';
  const incomplete = fc.constantFrom(
    'GARBAGE\r\n\r\n',
    `POST /graphql HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Length: abc\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Length: -1\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Length: 99999999999999999999\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":`,
    `POST /graphql HTTP/1.1\r\n${host}X-A: a\u0000b\r\nContent-Length: 2\r\n\r\n{}`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
    `POST /graphql HTTP/1.1\r\n${host}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host} folded: x\r\n\r\n`,
    `POST /graphql HTTP/9.9\r\n${host}\r\n`,
    `POST /graphql HTTP/1.1\n${host.replace('\r', '')}\n`,
    `P\u00d6ST /graphql HTTP/1.1\r\n${host}\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Length: 1\r\n`,
    `POST /graph ql HTTP/1.1\r\n${host}\r\n`,
  );
  const generated = fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 40 }), fc.string({ unit: 'binary-ascii', maxLength: 40 })).map(([name, value]) => `POST /graphql HTTP/1.1\r\n${host}${name}: ${value}\r\n\r\n`);
  const complete = fc.constantFrom(
    `GET /graphql\r\n\r\n`,
    `POST http://elsewhere.example/graphql HTTP/1.1\r\n${host}Content-Type: application/json\r\nConnection: close\r\nContent-Length: ${valid.length}\r\n\r\n${valid}`,
    `POST /graphql HTTP/1.1\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: ${valid.length}\r\n\r\n${valid}`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Type: application/json\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Length: 2000000\r\n\r\n`,
    `POST /graphql HTTP/1.1\r\n${host}Content-Type: application/json\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n${valid.length.toString(16)}\r\n${valid}\r\n0\r\n\r\n`,
    `POST /graphql HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: ${valid.length}\r\n\r\n${valid}`,
  );
  const raw = (text: string, then: 'wait' | 'half-close'): HostileRequest => ({
    category: 'malformed HTTP',
    summary: `raw ${JSON.stringify(text.slice(0, 160))}`,
    sending: { kind: 'raw', bytes: () => Buffer.from(text, 'latin1'), then },
    expect: { status: [200, 400, 404, 413, 505], nodeMayRefuse: true },
  });
  return fc.oneof({ arbitrary: fc.oneof(incomplete, generated).map((text) => raw(text, 'half-close')), weight: 3 }, { arbitrary: complete.map((text) => raw(text, 'wait')), weight: 1 });
}

function clientHangUps(): fc.Arbitrary<HostileRequest> {
  const body = JSON.stringify({ query: '{ products(first: 100) { id name description } }' });
  return fc.constantFrom('mid-body' as const, 'after-headers' as const, 'after-request' as const, 'mid-headers' as const).map((how) => ({
    category: 'client hang-ups' as const,
    summary: `a client that hangs up ${how}`,
    sending: { kind: 'hang-up' as const, how, path: '/graphql', body },
    expect: {},
  }));
}

function methodsAndPaths(): fc.Arbitrary<HostileRequest> {
  const request = (method: string, path: string, expectation: Expectation, headers: Record<string, string> = JSON_HEADERS): HostileRequest => ({
    category: 'methods and paths',
    summary: `${method} ${preview(path, 100)}`,
    sending: { kind: 'http', method, path, headers, ...(method === 'GET' || method === 'HEAD' ? {} : { body: () => JSON.stringify({ query: VALID_QUERY }) }) },
    expect: expectation,
  });
  return fc.oneof(
    fc.constantFrom('PUT', 'DELETE', 'PATCH', 'PROPFIND').map((method) => request(method, '/graphql', { status: [405], code: ['BAD_REQUEST'] })),
    fc.constant(request('HEAD', '/graphql', { status: [400, 405] })),
    fc.constant(request('OPTIONS', '/graphql', { status: [400, 405] })),
    fc
      .constantFrom('/', '/graphq', '/graphqlx', '/health', '/health/ready/x', '/%2e%2e/graphql', '/graphql%2F', '//', '/..;/graphql', '/graphql%00', '/GRAPHQL', '/favicon.ico')
      .map((path) => request('POST', path, { status: [200, 400, 404] })),
    fc.string({ maxLength: 40 }).map((s) => request('GET', `/${encodeURIComponent(s)}`, { status: [200, 400, 404] }, {})),
  );
}

function persistedQueries(): fc.Arbitrary<HostileRequest> {
  const { post, get } = requestsOf('persisted queries');
  const id = fc.integer({ min: 1, max: 20 }).map(String);
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const queryOf = (id: string) => `{ product(id: "${id}") { id } }`;
  const apq = (hash: unknown, version: unknown = 1) => ({ persistedQuery: { version, sha256Hash: hash } });
  return fc.oneof(
    id.map((id) => post(JSON.stringify({ query: queryOf(id), extensions: apq(sha(queryOf(id))) }), { status: [200], data: { product: { id } } })),
    id.map((id) => post(JSON.stringify({ extensions: apq(sha(queryOf(id))) }), { status: [200] })),
    id.map((id) => post(JSON.stringify({ query: queryOf(id), extensions: apq(sha(queryOf(`${id}0`))) }), { status: [400] })),
    id.map((id) => post(JSON.stringify({ query: queryOf(id), extensions: apq(sha(queryOf(id)).toUpperCase()) }), { status: [400] })),
    fc.constantFrom<unknown>(2, 0, '1', null, 1.5).map((version) => post(JSON.stringify({ query: VALID_QUERY, extensions: apq(sha(VALID_QUERY), version) }), { status: [200, 400] })),
    fc.constantFrom<unknown>('zz', 'a'.repeat(63), 5, {}, [], null, '../../etc/passwd', `${'0'.repeat(64)}\n`).map((hash) => post(JSON.stringify({ extensions: apq(hash) }), { status: [200, 400] })),
    fc.constantFrom<unknown>(null, [], 'x', 1, { version: 1 }).map((persistedQuery) => post(JSON.stringify({ extensions: { persistedQuery } }), { status: [200, 400] })),
    id.map((id) => get(`extensions=${encodeURIComponent(JSON.stringify(apq(sha(queryOf(id)))))}`, { status: [200] })),
  );
}

// Private: tokens and text.

/** A JWT with any header and payload, signed by hand with HMAC (SHA-384 or -512 when `alg` says so, else SHA-256). */
function signJwt(header: { alg: string; typ?: string }, payload: object, secret: string): string {
  const hash = ({ HS384: 'sha384', HS512: 'sha512' } as Record<string, string>)[header.alg] ?? 'sha256';
  const signing = `${base64url(header)}.${base64url(payload)}`;
  return `${signing}.${createHmac(hash, secret).update(signing).digest('base64url')}`;
}

function jwt(header: object, payload: object, signature: string): string {
  return `${base64url(header)}.${base64url(payload)}.${signature}`;
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** The token with one character of its payload or signature changed (never the signature's last, whose low bits are padding). */
function tampered(token: string, at: number): string {
  const firstDot = token.indexOf('.');
  const i = firstDot + 1 + (at % (token.length - firstDot - 2));
  const replaced = token[i] === 'A' ? 'B' : 'A';
  return token[i] === '.' ? tampered(token, at + 1) : token.slice(0, i) + replaced + token.slice(i + 1);
}

function isNotJson(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}

function headersSummary(headers: Record<string, string>): string {
  const shown = Object.entries(headers).filter(([name]) => name !== 'authorization' && !(name === 'content-type' && headers[name] === 'application/json'));
  return shown.length === 0 ? '' : `[${shown.map(([n, v]) => `${n}: ${v}`).join(', ')}]`;
}
