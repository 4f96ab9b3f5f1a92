import { isTypeTag } from '../cache/tags/tags.ts';
import { cacheControlHeader, type ResponsePolicy, type TypeHttpPolicy } from './httpPolicy.ts';
import { strongETag } from './storedResponse.ts';

export interface ResponseHeaderOptions {
  readonly policies: ReadonlyMap<string, TypeHttpPolicy>;
  /** The header that lists tags comma-separated (Cloudflare's `Cache-Tag` by default), besides `Surrogate-Key`. */
  readonly tagHeader: string;
}

/**
 * The headers of a cacheable response, stored with it and sent again on every hit. Pure.
 *
 * - `Vary: Accept` always (Apollo picks the content type from it), and `Authorization` on a
 *   private response: a public one is the same for every viewer, so a CDN may share it.
 * - `Surrogate-Key` and the tag header list the response's tags, so a CDN can purge it by tag. Past
 *   a size CDNs accept, only the type tags are listed: a purge by type still reaches it.
 */
export function cacheableHeaders(policy: ResponsePolicy, tags: readonly string[], body: Uint8Array, contentType: string, options: ResponseHeaderOptions): Record<string, string> {
  const types = tags.filter(isTypeTag);
  const listed = tags.join(' ').length <= MAX_TAG_HEADER_LENGTH ? tags : types;
  return {
    'content-type': contentType,
    'cache-control': cacheControlHeader(policy, types, options.policies),
    vary: policy.scope === 'PRIVATE' ? 'Accept, Authorization' : 'Accept',
    etag: strongETag(body),
    'surrogate-key': listed.join(' '),
    [options.tagHeader.toLowerCase()]: listed.join(','),
  };
}

// Private:

/** Fastly and Cloudflare both accept 16 KB of keys; half leaves room for every other header. */
const MAX_TAG_HEADER_LENGTH = 8 * 1024;
