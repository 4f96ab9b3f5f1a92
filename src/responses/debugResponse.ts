import type { CacheExtension } from '../observability/requestCacheReport.ts';
import type { Exchange } from './responseTier.ts';
import type { CompleteResponse } from './storedResponse.ts';

/**
 * A debug request's answer (CACHE_DEBUG, `x-cache-debug: 1`): sent `no-store` and never stored, so
 * neither the response tier nor a CDN ever gives one request's report to another. An executed one
 * carries its report already (the cache report plugin); a stored one is re-serialised with
 * `extensions.cache = { response: 'hit' }`, for this request only: the stored bytes are left as
 * they are, and a normal request's hit never pays for this.
 */
export function sendDebugResponse({ res }: Pick<Exchange, 'res'>, answer: { body: string | Uint8Array; contentType: string; source: 'HIT' | 'MISS' }): void {
  const body = answer.source === 'HIT' ? withHitExtension(Buffer.from(answer.body).toString()) : answer.body;
  res.writeHead(200, { 'content-type': answer.contentType, 'cache-control': 'no-store', 'x-response-cache': answer.source });
  res.end(body);
}

/** The content type a stored response was sent with. */
export function storedContentType(stored: CompleteResponse): string {
  return String(stored.headers['content-type'] ?? 'application/json; charset=utf-8');
}

// Private:

function withHitExtension(text: string): string {
  const result = JSON.parse(text) as { extensions?: Record<string, unknown> };
  const cache: CacheExtension = { response: 'hit' };
  return JSON.stringify({ ...result, extensions: { ...result.extensions, cache } });
}
