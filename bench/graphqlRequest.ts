import { BearerTokens } from '../src/auth/bearerTokens.ts';

/** The read the bench measures: a page of products with their category, reviews and review authors (an N+1 shape without batching). */
export const QUERY = '{ products(first: 20) { id name priceCents category { id name } reviews { id rating body author { id name } } } }';

/** The exact POST body every request sends, so every server sees byte-identical requests. */
export const REQUEST_BODY = JSON.stringify({ query: QUERY });

/** Sends the query once and returns the response body; throws on anything but a 200 with data and no errors. */
export async function postQuery(baseUrl: string): Promise<string> {
  return (await captureResponse(baseUrl)).body;
}

/** One answer to the read-path query, as it went over the wire. */
export interface CapturedResponse {
  /** The body, byte for byte. */
  body: string;
  contentType: string;
  /** Every response header, by lower-case name. */
  headers: Record<string, string>;
  /** The parsed `data`, for comparing answers whose bytes may differ (field order, extensions). */
  data: unknown;
}

/**
 * Sends the read-path query once (the same bytes the load sends) and keeps the whole response;
 * throws on anything but a 200 with products and no errors, as postQuery does.
 */
export async function captureResponse(baseUrl: string): Promise<CapturedResponse> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: REQUEST_BODY,
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${baseUrl}/graphql answered ${response.status}: ${body.slice(0, 500)}`);
  const parsed = JSON.parse(body) as { data?: { products?: unknown[] }; errors?: unknown[] };
  if (parsed.errors !== undefined || !Array.isArray(parsed.data?.products) || parsed.data.products.length === 0) {
    throw new Error(`${baseUrl}/graphql answered without products or with errors: ${body.slice(0, 500)}`);
  }
  return { body, contentType: response.headers.get('content-type') ?? '', headers: Object.fromEntries(response.headers), data: parsed.data };
}

/** The secret every bench server signs and checks Bearer tokens with. */
export const BENCH_TOKEN_SECRET = 'bench-only-bearer-token-secret-not-for-use-elsewhere';

/** The seeded admin's token under {@link BENCH_TOKEN_SECRET}: the catalog's writes require it. */
export function benchAdminToken(): Promise<string> {
  return new BearerTokens({ secret: BENCH_TOKEN_SECRET }).sign(1, { role: 'ADMIN' });
}

/** A GraphQL response as the bench reads it. */
export interface GraphQLResponse<D> {
  data?: D;
  errors?: unknown[];
}

/**
 * Sends any operation; returns its `data`, and throws on anything but a 200 without errors, naming
 * the operation, so a section never measures failures as if they were answers.
 */
export async function postGraphQL<D>(baseUrl: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<D> {
  const { body, text } = await postGraphQLRaw<D>(baseUrl, query, variables, token);
  if (body.errors !== undefined || body.data === undefined) {
    throw new Error(`${baseUrl}/graphql answered ${firstWords(query)} with errors: ${text.slice(0, 500)}`);
  }
  return body.data;
}

/** Like {@link postGraphQL}, but returns the whole response, and its text, whatever it holds (still throwing on a non-200). */
export async function postGraphQLRaw<D>(baseUrl: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<{ body: GraphQLResponse<D>; text: string }> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${baseUrl}/graphql answered ${firstWords(query)} with ${response.status}: ${text.slice(0, 500)}`);
  return { body: JSON.parse(text) as GraphQLResponse<D>, text };
}

function firstWords(query: string): string {
  return JSON.stringify(query.replace(/\s+/g, ' ').trim().slice(0, 60));
}
