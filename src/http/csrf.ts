import type { IncomingHttpHeaders } from 'node:http';

/**
 * Apollo's CSRF prevention, for the requests the response tier answers before Apollo sees them: a
 * request a browser could send cross-site without a preflight (no content type, or a "simple" one,
 * and none of the preflight headers) is refused, hit or not. Same rule, same headers as Apollo's
 * `preventCsrf` (@apollo/server src/preventCsrf.ts). Pure.
 */
export const PREFLIGHT_HEADERS = ['x-apollo-operation-name', 'apollo-require-preflight'] as const;

const SIMPLE_CONTENT_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

export function mayBeCrossSiteForgery(headers: IncomingHttpHeaders): boolean {
  const contentType = headers['content-type'];
  if (contentType !== undefined) {
    const essence = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
    if (!SIMPLE_CONTENT_TYPES.has(essence)) return false;
  }
  return !PREFLIGHT_HEADERS.some((name) => {
    const value = headers[name];
    return value !== undefined && value.length > 0;
  });
}
