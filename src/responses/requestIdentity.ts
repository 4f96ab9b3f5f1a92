import { createHash } from 'node:crypto';
import { canonicalEncode, type KeyPart } from '../cache/keys.ts';

/**
 * Which GraphQL request an HTTP request is, read without parsing the query: the response tier looks
 * up its answer before anything else runs. Two requests with the same identity get the same answer
 * for the same viewer. Pure.
 */
export interface RequestIdentity {
  /** sha256 (base64url) of the canonical request: the response tier's key. */
  readonly hash: string;
}

/** The parts of a GraphQL-over-HTTP request, from a GET's query string or a POST's JSON body. */
export interface GraphQLParams {
  readonly query: unknown;
  readonly variables: unknown;
  readonly operationName: unknown;
  readonly extensions: unknown;
}

/**
 * The identity of a request the response tier may answer, or undefined: a batch, a malformed
 * request, or a document that may hold a mutation all go to Apollo, which gives the errors.
 *
 * - The document is named by the sha256 of its text, which is also its Automatic Persisted Query
 *   hash, so a hash-only request and the request that registered it share one entry. A request that
 *   sends both text and a hash that do not match gets no identity (Apollo refuses it).
 * - Variables are canonical: the same values in any key order are the same request. Variables no
 *   key can hold (a non-finite number, as JSON.parse reads 1e999, or more nesting than
 *   MAX_KEY_DEPTH allows) give no identity, as does a query with a lone surrogate (its UTF-8 hash
 *   would match other queries'): Apollo answers or refuses those.
 * - `accept` is part of it: Apollo picks the response's content type from it (and says so in Vary).
 *
 * Never throws, whatever JSON the request holds: a request the tier cannot name is not cacheable,
 * never a 500.
 */
export function requestIdentity(params: GraphQLParams, accept: string | undefined): RequestIdentity | undefined {
  const { query, operationName, extensions } = params;
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') return undefined;
  const persistedHash = persistedQueryHash(extensions);
  if (persistedHash === null) return undefined;
  let document: string;
  if (typeof query === 'string' && query.length > 0) {
    // Cheap and safe: at worst a query that mentions the word is executed rather than looked up.
    if (/\bmutation\b/.test(query)) return undefined;
    // UTF-8 turns every lone surrogate into U+FFFD; Apollo's lexer refuses them anyway.
    if (/\p{Surrogate}/u.test(query)) return undefined;
    document = createHash('sha256').update(query).digest('hex');
    if (persistedHash !== undefined && persistedHash !== document) return undefined;
  } else if (query === undefined || query === null) {
    if (persistedHash === undefined) return undefined;
    document = persistedHash;
  } else {
    return undefined;
  }
  const variables = variablesOf(params.variables);
  if (variables === null) return undefined;
  const canonical = canonicalRequest([document, operationName ?? null, variables, accept ?? null]);
  return canonical === undefined ? undefined : { hash: createHash('sha256').update(canonical).digest('base64url') };
}

/** GET sends variables and extensions as JSON text; POST as JSON values. */
export function paramsFromSearch(search: URLSearchParams): GraphQLParams | undefined {
  // Apollo refuses a parameter given twice: so must a lookup, or a hit would answer what Apollo refuses.
  for (const name of PARAMETERS) if (search.getAll(name).length > 1) return undefined;
  const json = (name: string): unknown => {
    const text = search.get(name);
    if (text === null) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return INVALID;
    }
  };
  const params = { query: search.get('query') ?? undefined, variables: json('variables'), operationName: search.get('operationName') ?? undefined, extensions: json('extensions') };
  return params.variables === INVALID || params.extensions === INVALID ? undefined : params;
}

// Private:

const INVALID = Symbol('invalid JSON');
const PARAMETERS = ['query', 'variables', 'operationName', 'extensions'] as const;

/**
 * undefined: no APQ extension; null: a malformed one; else the hex hash. Lower case only: Apollo
 * compares the hash with its own exactly, so an upper-case one is a request Apollo refuses, and
 * must not be answered from the entry of the lower-case one.
 */
function persistedQueryHash(extensions: unknown): string | undefined | null {
  if (extensions === undefined || extensions === null) return undefined;
  if (typeof extensions !== 'object' || Array.isArray(extensions)) return null;
  const persisted = (extensions as { persistedQuery?: unknown }).persistedQuery;
  if (persisted === undefined) return Object.keys(extensions).length === 0 ? undefined : null;
  const { version, sha256Hash } = (persisted ?? {}) as { version?: unknown; sha256Hash?: unknown };
  if (version !== 1 || typeof sha256Hash !== 'string' || !/^[0-9a-f]{64}$/.test(sha256Hash)) return null;
  return sha256Hash;
}

/** undefined: what the client sent cannot be a key (see requestIdentity). */
function canonicalRequest(parts: readonly KeyPart[]): string | undefined {
  try {
    return canonicalEncode(parts);
  } catch {
    // canonicalEncode refuses with a TypeError what it cannot encode; anything else it could meet
    // here (a string past the engine's limit) means the same: this request is not cacheable.
    return undefined;
  }
}

/** null: not an object of variables. */
function variablesOf(variables: unknown): KeyPart | null {
  if (variables === undefined || variables === null) return {};
  if (typeof variables !== 'object' || Array.isArray(variables)) return null;
  return variables as KeyPart;
}
