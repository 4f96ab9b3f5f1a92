import { isObjectType, type GraphQLSchema } from 'graphql';
import { entityGraceSeconds, readCacheHint, readDirectiveInt } from '../cache/policy.ts';

/**
 * The HTTP `Cache-Control` of a whole response, from the schema: Apollo's rules give max-age and
 * scope (the lowest maxAge and the most private scope of every field resolved); each type touched
 * may add, for shared caches and for failures, what `@cacheControl` cannot say. Pure.
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
    });
  }
  return policies;
}

/**
 * The header value. `policy` undefined (a mutation, an error, nothing cacheable) or a maxAge of 0
 * gives `no-store`. The extensions take the lowest value over the types the response touched, and
 * appear only when every touched type has one: a type that says nothing must not be kept longer,
 * or served stale, because another type in the same response allows it.
 */
export function cacheControlHeader(policy: ResponsePolicy | undefined, touchedTypes: Iterable<string>, policies: ReadonlyMap<string, TypeHttpPolicy>): string {
  if (policy === undefined || policy.maxAge <= 0) return 'no-store';
  const touched = [...touchedTypes].map((name) => policies.get(name)).filter((p) => p !== undefined);
  const lowest = (pick: (p: TypeHttpPolicy) => number | undefined): number | undefined => {
    const values = touched.map(pick);
    if (values.length === 0 || values.some((v) => v === undefined || v <= 0)) return undefined;
    return Math.min(...(values as number[]));
  };
  const parts = [policy.scope === 'PRIVATE' ? 'private' : 'public', `max-age=${policy.maxAge}`];
  // s-maxage is for shared caches only; a private response never reaches one.
  const sMaxAge = policy.scope === 'PUBLIC' ? lowest((p) => p.sMaxAge) : undefined;
  if (sMaxAge !== undefined) parts.push(`s-maxage=${sMaxAge}`);
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
  const shared = /(?:^|, )s-maxage=(\d+)/.exec(header) ?? /(?:^|, )max-age=(\d+)/.exec(header);
  if (!shared) return header;
  const remaining = `s-maxage=${Math.max(0, Number(shared[1]) - ageSeconds)}`;
  if (header.includes('s-maxage=')) return header.replace(/s-maxage=\d+/, remaining);
  return header.replace(/max-age=\d+/, (maxAge) => `${maxAge}, ${remaining}`);
}
