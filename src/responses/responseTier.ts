import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import type { LateFillOutcome, LateFillTicket } from '../cache/coherence/lateFills.ts';
import type { CacheEntry, CachedKind } from '../cache/entry.ts';
import type { CacheKeys } from '../cache/keys.ts';
import { tierWrite } from '../cache/readThrough/readItem.ts';
import type { CacheStack } from '../cache/stack.ts';
import { isTypeTag } from '../cache/tags/tags.ts';
import { mayBeCrossSiteForgery } from '../http/csrf.ts';
import { endLookupSpan, startLookupSpan } from '../observability/tracing.ts';
import { BodyError, isJsonContentType } from '../http/requestBody.ts';
import { NO_METRICS, type MetricsSink, type ResponseRefusal } from '../observability/metrics.ts';
import { sendDebugResponse, storedContentType } from './debugResponse.ts';
import { storedTtlSeconds, type ResponsePolicy } from './httpPolicy.ts';
import { paramsFromSearch, requestIdentity, type GraphQLParams, type RequestIdentity } from './requestIdentity.ts';
import { cacheableHeaders, type ResponseHeaderOptions } from './responseHeaders.ts';
import { sendResponse } from './sendResponse.ts';
import type { CompleteResponse, StoredResponse } from './storedResponse.ts';

export interface ResponseTierOptions {
  /** The tiers to keep responses in; undefined: the tier is off and every request executes. */
  readonly stack: Pick<CacheStack, 'local' | 'shared' | 'lateFills'> | undefined;
  readonly keys: CacheKeys;
  readonly kind: CachedKind<StoredResponse>;
  /** How long the shared tier keeps an invalidated tag's generation (CacheAddresses.tagLifetimeMs). */
  readonly tagLifetimeMs: (tag: string) => number;
  readonly headers: ResponseHeaderOptions;
  /** Larger responses are sent, never stored (HttpLimits.maxStoredResponseBytes). */
  readonly maxStoredBytes: number;
  readonly logger: Logger;
  /** Told of hits, misses, stores, 304s and refusals. @default none */
  readonly metrics?: Pick<MetricsSink, 'responseTier' | 'responseRefused'>;
  /** @default Date.now */
  readonly now?: () => number;
}

/** One HTTP request, as the GraphQL handler has read it. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The query string, with its `?`, or ''. */
  readonly search: string;
  /** A POST's body text. */
  readonly text: string | undefined;
  /** The POST body as Apollo takes it, parsed once, on demand. */
  readonly parseBody: () => unknown;
  /** Whose response a private one is: a user id, or "anonymous". */
  readonly viewer: string;
  /** Asked for `extensions.cache` (see debugResponse.ts): answered, never stored. */
  readonly cacheDebug?: boolean;
}

/** What an execution produced: an answer the handler has sent itself, or one this tier may keep. */
export type Answer =
  { readonly kind: 'sent'; readonly refused?: ResponseRefusal } | { readonly kind: 'cacheable'; readonly body: string; readonly contentType: string; readonly policy: ResponsePolicy; readonly tags: readonly string[] };

/**
 * The response tier: whole responses in the local and shared tiers, keyed by request (and by viewer
 * when private), carrying the tags of everything their execution read, so the write path's tag
 * invalidations drop them like any data entry, on every instance. A hit is written back as stored,
 * before anything is parsed; a response is stored under the cache stack's late-fill protocol (see
 * LateFills), with a ticket taken before its execution.
 *
 * It also writes every cacheable response, hit or miss (sendResponse.ts).
 */
export class ResponseTier {
  private readonly now: () => number;
  private readonly metrics: Pick<MetricsSink, 'responseTier' | 'responseRefused'>;

  constructor(private readonly options: ResponseTierOptions) {
    this.now = options.now ?? Date.now;
    this.metrics = options.metrics ?? NO_METRICS;
  }

  /** The one entry point: answers from the tier, or runs `execute` and stores its answer when it may. */
  async serve(exchange: Exchange, execute: () => Promise<Answer>): Promise<void> {
    const { stack } = this.options;
    const identity = stack ? identify(exchange) : undefined;
    if (identity) {
      const span = startLookupSpan();
      const found = this.lookup(identity.hash, exchange.viewer);
      const hit = found instanceof Promise ? await found : found;
      endLookupSpan(span, hit !== undefined, found instanceof Promise ? 'shared' : 'local');
      if (hit && exchange.cacheDebug) return sendDebugResponse(exchange, { body: hit.body, contentType: storedContentType(hit), source: 'HIT' });
      if (hit) return this.metrics.responseTier(sendResponse(exchange, hit, 'HIT', this.now()) === 304 ? 'not_modified' : 'hit');
      this.metrics.responseTier('miss');
    }
    const ticket = identity ? stack?.lateFills.ticket() : undefined;
    const answer = await execute();
    if (answer.kind === 'sent') {
      if (identity && answer.refused) this.metrics.responseRefused(answer.refused);
      return;
    }
    if (exchange.cacheDebug) return sendDebugResponse(exchange, { body: answer.body, contentType: answer.contentType, source: 'MISS' });
    const body = Buffer.from(answer.body);
    const stored: CompleteResponse = {
      kind: 'response',
      body,
      headers: cacheableHeaders(answer.policy, answer.tags, body, answer.contentType, this.options.headers),
      storedAt: this.now(),
      tags: [...answer.tags],
    };
    // The local part is done when store() returns to here, before the response is sent: the next request on this instance hits.
    const storing =
      identity && ticket && body.length <= this.options.maxStoredBytes
        ? this.store(identity.hash, exchange.viewer, stored, answer.policy, ticket).then(
            (outcome) => (outcome === 'stored' ? this.metrics.responseTier('store') : this.metrics.responseRefused(outcome)),
            (error: unknown) => this.options.logger.warn({ err: error }, 'response not stored'),
          )
        : undefined;
    if (identity && ticket && !storing) this.metrics.responseRefused('too_large');
    if (sendResponse(exchange, stored, 'MISS', this.now()) === 304) this.metrics.responseTier('not_modified');
    await storing;
  }

  /** The stored response for this request and viewer, fresh, or undefined. */
  private lookup(requestHash: string, viewer: string): CompleteResponse | undefined | Promise<CompleteResponse | undefined> {
    const { stack, keys, kind } = this.options;
    const sharedKey = keys.response(kind, requestHash);
    const local = stack?.local;
    if (local) {
      const found = this.fresh(local.peek<StoredResponse>(sharedKey));
      if (found?.kind === 'response') return found;
      if (found?.kind === 'private') {
        const own = this.fresh(local.peek<StoredResponse>(keys.response(kind, requestHash, viewer)));
        if (own?.kind === 'response') return own;
      }
    }
    return stack?.shared ? this.lookupShared(sharedKey, keys.response(kind, requestHash, viewer)) : undefined;
  }

  private async lookupShared(sharedKey: string, viewerKey: string): Promise<CompleteResponse | undefined> {
    const { stack, kind } = this.options;
    const shared = stack?.shared;
    if (!shared) return undefined;
    // Taken before the read: a copy into the local tier of an entry invalidated meanwhile is refused.
    const localFence = stack.local?.currentFence();
    const { entries } = await shared.getCarryingTags([sharedKey, viewerKey], kind, (value) => value.tags);
    const [sharedEntry, ownEntry] = entries as [CacheEntry<StoredResponse> | undefined, CacheEntry<StoredResponse> | undefined];
    const marker = this.fresh(sharedEntry);
    const own = this.fresh(ownEntry);
    let hit: CompleteResponse;
    let copies: Array<[string, CacheEntry<StoredResponse>]>;
    if (marker?.kind === 'response') {
      hit = marker;
      copies = [[sharedKey, sharedEntry as CacheEntry<StoredResponse>]];
    } else if (marker?.kind === 'private' && own?.kind === 'response') {
      hit = own;
      copies = [
        [sharedKey, sharedEntry as CacheEntry<StoredResponse>],
        [viewerKey, ownEntry as CacheEntry<StoredResponse>],
      ];
    } else {
      return undefined;
    }
    if (stack.local && localFence) {
      const now = this.now();
      await stack.local.setMany(
        copies.map(([key, entry]) => ({ ...tierWrite({ key, tags: hit.tags }, entry, now), ttlMs: Math.max(1, entry.expiresAt - now) })),
        localFence,
      );
    }
    return hit;
  }

  /**
   * Stores a response executed since `ticket` was taken. A private one is stored under the viewer's
   * key, with a marker under the shared key that sends lookups there.
   */
  private async store(requestHash: string, viewer: string, response: CompleteResponse, policy: ResponsePolicy, ticket: LateFillTicket): Promise<LateFillOutcome | 'max_age_zero'> {
    const { stack, keys, kind, headers } = this.options;
    if (!stack) return 'stored';
    const ttlMs = this.lifetimeMs(storedTtlSeconds(policy, response.tags.filter(isTypeTag), headers.policies), response.tags);
    if (ttlMs <= 0) return 'max_age_zero';
    const now = this.now();
    const expiresAt = response.storedAt + ttlMs;
    const writeOf = (key: string, value: StoredResponse) => tierWrite({ key, tags: response.tags }, { value, expiresAt, staleUntil: expiresAt, computeMs: 0, version: 0 }, now);
    const writes =
      policy.scope === 'PUBLIC'
        ? [writeOf(keys.response(kind, requestHash), response)]
        : [writeOf(keys.response(kind, requestHash, viewer), response), writeOf(keys.response(kind, requestHash), { kind: 'private', tags: response.tags })];
    return stack.lateFills.store(writes, ticket);
  }

  /**
   * A response lives its max-age, but no longer than its tags' generations are kept (less a margin
   * for clocks): past that, its stamps no longer match and it could only be a miss.
   */
  private lifetimeMs(ttlSeconds: number, tags: readonly string[]): number {
    let ms = ttlSeconds * 1000;
    for (const tag of tags) ms = Math.min(ms, this.options.tagLifetimeMs(tag) - CLOCK_MARGIN_MS);
    return ms;
  }

  /** The value of an entry still within its TTL (responses are never served stale). */
  private fresh(entry: CacheEntry<StoredResponse> | undefined): StoredResponse | undefined {
    return entry !== undefined && entry.value !== null && entry.expiresAt > this.now() ? entry.value : undefined;
  }
}

// Private:

/** Instances' clocks and Redis's may disagree by this much. */
const CLOCK_MARGIN_MS = 60_000;

/**
 * The request's identity for the response tier, or undefined when the tier must not answer it.
 * Memoised by the request's exact text: a repeated request (the common case on a hit) costs one
 * Map lookup instead of a JSON parse, a canonical encoding and a hash.
 */
function identify({ req, search, text, parseBody }: Exchange): RequestIdentity | undefined {
  // A hit must be refused exactly where Apollo would refuse the request. Only a JSON POST is read
  // as JSON: the same text under another type is Apollo's to refuse, and must neither hit nor leave
  // a memo entry that the JSON request would then find.
  if (mayBeCrossSiteForgery(req.headers)) return undefined;
  if (req.method !== 'GET' && req.method !== 'POST') return undefined;
  if (req.method === 'POST' && !isJsonContentType(req.headers['content-type'])) return undefined;
  const raw = req.method === 'GET' ? search : text;
  const memoKey = raw !== undefined && raw.length <= MAX_MEMOISED_REQUEST_LENGTH ? `${req.method}\n${req.headers.accept ?? ''}\n${raw}` : undefined;
  const memoised = memoKey === undefined ? undefined : identities.get(memoKey);
  if (memoised !== undefined) return memoised === NOT_CACHEABLE ? undefined : memoised;
  let params: GraphQLParams | undefined;
  if (req.method === 'GET') {
    params = paramsFromSearch(new URLSearchParams(search));
  } else {
    const body = parseBody();
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && !(body instanceof BodyError)) params = body as GraphQLParams;
  }
  const identity = params ? requestIdentity(params, req.headers.accept) : undefined;
  if (memoKey !== undefined) identities.set(memoKey, identity ?? NOT_CACHEABLE);
  return identity;
}

const NOT_CACHEABLE = Symbol('not cacheable');
/** Requests longer than this are not memoised: their text would cost more memory than hashing them costs time. */
const MAX_MEMOISED_REQUEST_LENGTH = 8 * 1024;
/** Bounded by the text it holds (8 MiB at most), not only by count. */
const identities = new LRUCache<string, RequestIdentity | typeof NOT_CACHEABLE>({ max: 10_000, maxSize: 8 * 1024 * 1024, sizeCalculation: (_, key) => key.length + 64 });
