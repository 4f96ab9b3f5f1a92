import { createHash } from 'node:crypto';
import { printSchema, type GraphQLSchema } from 'graphql';
import { z } from 'zod';
import { shapeVersion } from '../cache/codec.ts';
import type { CachedKind } from '../cache/entry.ts';

/**
 * What the response tier keeps for one request: the exact bytes sent and the headers that go with
 * them, so that a hit writes them back without parsing, validating or executing anything. A request
 * whose response is PRIVATE stores only a marker under its shared key, and the response under a key
 * that adds the viewer: a private response can only ever be found by its own viewer.
 */
export type StoredResponse = z.infer<typeof storedResponseShape>;
export type CompleteResponse = Extract<StoredResponse, { kind: 'response' }>;

export const storedResponseShape = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('response'),
    body: z.instanceof(Uint8Array),
    /** Lower-case names: content-type, cache-control, vary, etag, surrogate-key and the tag header. */
    headers: z.record(z.string(), z.string()),
    /** ms since the epoch: the `Age` of a hit counts from here. */
    storedAt: z.number(),
    /** Every entity and list it was computed from: what invalidates it, read back to check its stamps. */
    tags: z.array(z.string()),
  }),
  z.strictObject({ kind: z.literal('private'), tags: z.array(z.string()) }),
]);

/**
 * The cached kind of responses. Its shape version also hashes the schema: a deploy that changes the
 * contract never serves a response computed under the old one.
 */
export function responseKind(schema: GraphQLSchema): CachedKind<StoredResponse> {
  const version = createHash('sha256').update(shapeVersion(storedResponseShape)).update(printSchema(schema)).digest('hex').slice(0, 8);
  // TTLs are per response (its policy), not per kind: these fields are unused for responses.
  return { name: 'Response', shape: storedResponseShape, shapeVersion: version, ttlSeconds: 0, absentTtlSeconds: 0, graceSeconds: 0 };
}

/** A strong validator of the exact bytes: equal bodies, equal ETags, so a 304 is always right. */
export function strongETag(body: Uint8Array): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}
