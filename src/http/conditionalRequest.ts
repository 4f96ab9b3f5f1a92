/**
 * `If-None-Match` against a response's ETag (RFC 9110 13.1.2): a list of tags or `*`, compared
 * weakly (a `W/` prefix is ignored), as the RFC requires for this header. Pure.
 */
export function ifNoneMatchHits(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  for (const candidate of header.split(',')) {
    const tag = candidate.trim();
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === etag) return true;
  }
  return false;
}
