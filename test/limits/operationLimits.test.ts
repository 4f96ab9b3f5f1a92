import { getIntrospectionQuery } from 'graphql';
import { describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { redisUrl } from '../support/services.ts';
import { keysUnder, useTestApp } from '../support/testApp.ts';

/** `product { reviews { product { ... } } }`, nested `levels` times: depth 1 + 2 × levels + 1. */
function reviewChain(levels: number, first = 1): string {
  let selection = 'id';
  for (let i = 0; i < levels; i++) selection = `reviews(first: ${first}) { product { ${selection} } }`;
  return `{ product(id: "1") { ${selection} } }`;
}

describe('operation limits, checked before execution (defaults: graphql-armor’s, adapted)', () => {
  const app = useTestApp({ RESPONSE_CACHE: 'on' });

  async function refusal(query: string, variables?: Record<string, unknown>) {
    const response = await app().query(query, variables);
    expect(response.status, query.slice(0, 80)).toBe(400);
    expect(response.body.data).toBeUndefined();
    return response.body.errors?.map((e) => `${String(e.extensions?.code)}: ${e.message}`).join('\n') ?? '';
  }

  it('refuses depth over 6, and serves depth 6', async () => {
    expect(await refusal(reviewChain(3))).toMatch(/GRAPHQL_VALIDATION_FAILED: Query depth limit of 6 exceeded, found 8\./);
    const atLimit = await app().query(`{ product(id: "1") { reviews(first: 1) { product { reviews(first: 1) { author { name } } } } } }`);
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.errors).toBeUndefined();
  });

  it('refuses more than 15 aliases, and more than 50 directives', async () => {
    const aliases = `{ ${Array.from({ length: 16 }, (_, i) => `a${i}: product(id: "1") { id }`).join(' ')} }`;
    expect(await refusal(aliases)).toMatch(/Aliases limit of 15 exceeded, found 16\./);
    const typenames = `{ ${Array.from({ length: 16 }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    expect(await refusal(typenames)).toMatch(/Aliases limit of 15 exceeded, found 16\./);
    const directives = `{ product(id: "1") { id ${'@include(if: true) '.repeat(51)} } }`;
    expect(await refusal(directives)).toMatch(/Directives limit of 50 exceeded, found 51\./);
  });

  it('stops parsing at the 1001st token', async () => {
    const tokens = `{ product(id: "1") { ${'id '.repeat(1000)} } }`;
    expect(await refusal(tokens)).toMatch(/GRAPHQL_PARSE_FAILED: Syntax Error: Tokens limit of 1000 exceeded, found more than 1000/);
  });

  it('refuses a cost over 5000, where every field counts and a list multiplies by its first, given inline or by variable', async () => {
    expect(await refusal(`{ products(first: 100) { reviews(first: 100) { id } } }`)).toMatch(/Cost limit of 5000 exceeded, found 20100\./);
    const byVariable = `query($n: Int) { products(first: 100) { reviews(first: $n) { id } } }`;
    expect(await refusal(byVariable, { n: 50 })).toMatch(/Cost limit of 5000 exceeded, found 10100\./);
    // The same text within the budget: the limit depends on the variables, not only the document.
    const within = await app().query(byVariable, { n: 2 });
    expect(within.status).toBe(200);
    expect(within.body.data?.products).toHaveLength(100);
  });

  it('refuses the issue’s attack, the depth-15 product -> reviews(first: 100) chain, without running it', async () => {
    const sql = await app().sqlDuring(async () => {
      expect(await refusal(reviewChain(7, 100))).toMatch(/Query depth limit of 6 exceeded/);
    });
    expect(sql).toBe(0);
  });

  it('lets the standard introspection query through every limit (which production turns off)', async () => {
    const response = await app().query(getIntrospectionQuery());
    expect(response.status).toBe(200);
    expect(response.body.data?.__schema.queryType).toMatchObject({ name: 'Query' });
  });

  it('refuses a mutation document with more than 5 mutation fields, before writing any', async () => {
    const views = `mutation { ${Array.from({ length: 6 }, (_, i) => `v${i}: recordProductView(id: "2")`).join(' ')} }`;
    expect(await refusal(views)).toMatch(/Mutation fields limit of 5 exceeded, found 6\./);
  });

  it('never stores what it refuses, which is why a response-tier hit may skip the checks', async () => {
    // What a hit could serve is only what was stored; what is stored is only what executed; and
    // nothing over a limit executes. So an over-limit request misses every time, is refused every
    // time, and leaves no response entry behind.
    const redis = new Redis(redisUrl);
    try {
      const responseKeys = async () => (await keysUnder(redis, app().prefix)).filter((key) => key.includes('["r"'));
      const before = (await responseKeys()).length;
      const overLimit = `{ products(first: 100) { reviews(first: 100) { id } } }`;
      for (let i = 0; i < 3; i++) {
        const response = await app().query(overLimit);
        expect(response.status).toBe(400);
        expect(response.headers.get('x-response-cache')).toBeNull();
      }
      expect((await responseKeys()).length).toBe(before);

      // The control: an accepted query is stored, and its repeat is a hit.
      const accepted = `{ products(first: 3) { id } }`;
      expect((await app().query(accepted)).headers.get('x-response-cache')).toBe('MISS');
      expect((await app().query(accepted)).headers.get('x-response-cache')).toBe('HIT');
      expect((await responseKeys()).length).toBeGreaterThan(before);
    } finally {
      redis.disconnect();
    }
  });
});
