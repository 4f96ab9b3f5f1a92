import { isObjectType, type GraphQLSchema } from 'graphql';
import { entityGraceSeconds, readCacheHint, readDirectiveInt } from '../cache/policy.ts';

/**
 * The HTTP `Cache-Control` of a whole response, from the schema: Apollo's rules give the lifetime
 * and scope (the lowest maxAge and the most private scope of every field resolved); each type
 * touched may add, for browsers, shared caches and failures, what `@cacheControl` cannot say. Pure.
 *
 * The lifetime goes to shared caches (`s-maxage`), which can be purged by tag. A browser's cache
 * cannot be purged, and would answer its own writer's re-query with what it held before the write:
 * it gets `max-age=0, must-revalidate` (each reuse is a conditional request, a 304 while nothing
 * changed) unless every touched type allows it more with `@httpCache(browserMaxAge:)`.
 */

/** What one object type adds to the header, read from its directives. */
export interface TypeHttpPolicy {
  /** The type's own `@cacheControl(maxAge:)`: a response that read this type lives no longer in the response tier. */
  readonly maxAge: number;
  /** `@httpCache(sMaxAge:)`: how long shared caches (CDNs, which can purge by tag) keep it. */
  readonly sMaxAge: number | undefined;
  /** `@cacheGrace(staleWhileRevalidate:)`: the grace of its data, offered to HTTP caches too. */
  readonly staleWhileRevalidate: number;
  /** `@httpCache(staleIfError:)`: how long a stale response may stand in when the origin fails. */
  readonly staleIfError: number;
  /** `@httpCache(browserMaxAge:)`: how long a browser may reuse it without asking, hiding a write from its own writer that long. */
  readonly browserMaxAge: number | undefined;
}

/** The policy Apollo's cache-control plugin computed for a response. */
export interface ResponsePolicy {
  readonly maxAge: number;
  readonly scope: 'PUBLIC' | 'PRIVATE';
}

export function typeHttpPolicies(schema: GraphQLSchema): ReadonlyMap<string, TypeHttpPolicy> {
  const policies = new Map<string, TypeHttpPolicy>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    policies.set(type.name, {
      maxAge: readCacheHint(type).maxAge ?? 0,
      sMaxAge: readDirectiveInt(type, 'httpCache', 'sMaxAge'),
      staleWhileRevalidate: entityGraceSeconds(schema, type.name),
      staleIfError: readDirectiveInt(type, 'httpCache', 'staleIfError') ?? 0,
      browserMaxAge: readDirectiveInt(type, 'httpCache', 'browserMaxAge'),
    });
  }
  return policies;
}

/**
 * The header value. `policy` undefined (a mutation, an error, nothing cacheable) or a maxAge of 0
 * gives `no-store`. The extensions take the lowest value over the types the response touched, and
 * appear only when every touched type has one: a type that says nothing must not be kept longer,
 * or served stale, because another type in the same response allows it.
 *
 * - `max-age` is the browser's: 0 unless every touched type has a `browserMaxAge` (then the lowest,
 *   capped by the response's maxAge), always with `must-revalidate`, which also forbids a browser
 *   to serve it stale under `stale-while-revalidate` (Chromium honours that extension).
 * - `s-maxage` is the shared caches': the response's maxAge, or the lowest `sMaxAge` where every
 *   touched type has one. It is never left out of a public response: a CDN without it would fall
 *   back on the browser's `max-age=0` and store nothing. (Not `no-cache` for the browser: nginx
 *   reads `no-cache` as "never store", whatever `s-maxage` says.)
 * - A private response reaches the browser only: `private, no-cache`, or its `max-age` when every
 *   touched type allows one. No shared-cache extension, and no stale serving.
 */
export function cacheControlHeader(policy: ResponsePolicy | undefined, touchedTypes: Iterable<string>, policies: ReadonlyMap<string, TypeHttpPolicy>): string {
  if (policy === undefined || policy.maxAge <= 0) return 'no-store';
  const touched = [...touchedTypes].map((name) => policies.get(name)).filter((p) => p !== undefined);
  const lowest = (pick: (p: TypeHttpPolicy) => number | undefined): number | undefined => {
    const values = touched.map(pick);
    if (values.length === 0 || values.some((v) => v === undefined || v <= 0)) return undefined;
    return Math.min(...(values as number[]));
  };
  const browserMaxAge = Math.min(policy.maxAge, lowest((p) => p.browserMaxAge) ?? 0);
  if (policy.scope === 'PRIVATE') return browserMaxAge > 0 ? `private, max-age=${browserMaxAge}, must-revalidate` : 'private, no-cache';
  const parts = ['public', `max-age=${browserMaxAge}`, 'must-revalidate', `s-maxage=${lowest((p) => p.sMaxAge) ?? policy.maxAge}`];
  const swr = lowest((p) => p.staleWhileRevalidate);
  if (swr !== undefined) parts.push(`stale-while-revalidate=${swr}`);
  const sie = lowest((p) => p.staleIfError);
  if (sie !== undefined) parts.push(`stale-if-error=${sie}`);
  return parts.join(', ');
}

/**
 * How long the response tier keeps a response, in seconds: its max-age, but no longer than the
 * maxAge of any type it touched (a field-level hint could raise it above its type's, and the tags
 * of a type's entries are kept only as long as the type's entries can live).
 */
export function storedTtlSeconds(policy: ResponsePolicy, touchedTypes: Iterable<string>, policies: ReadonlyMap<string, TypeHttpPolicy>): number {
  let ttl = policy.maxAge;
  for (const name of touchedTypes) {
    const typePolicy = policies.get(name);
    if (typePolicy && typePolicy.maxAge > 0) ttl = Math.min(ttl, typePolicy.maxAge);
  }
  return ttl;
}

/**
 * The Cache-Control of a response-tier hit that is `ageSeconds` old. `max-age` stays as it was:
 * browsers subtract the `Age` header. Shared caches get `s-maxage` lowered by the age, because some
 * ignore `Age` (nginx does) and would otherwise keep the response up to twice its lifetime; one that
 * honours `Age` expires it early, never late. Private and no-store headers are unchanged.
 */
export function cacheControlAtAge(header: string, ageSeconds: number): string {
  if (ageSeconds <= 0 || !header.startsWith('public')) return header;
  return header.replace(/\bs-maxage=(\d+)/, (_, seconds: string) => `s-maxage=${Math.max(0, Number(seconds) - ageSeconds)}`);
}
