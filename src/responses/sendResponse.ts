import { ifNoneMatchHits } from '../http/conditionalRequest.ts';
import { cacheControlAtAge } from './httpPolicy.ts';
import type { Exchange } from './responseTier.ts';
import type { CompleteResponse } from './storedResponse.ts';

/**
 * Writes a cacheable response, stored or just executed: its headers, its `Age` on a hit, and the 304
 * a GET whose `If-None-Match` names its ETag gets, hit or miss. Returns the status sent.
 */
export function sendResponse({ req, res }: Pick<Exchange, 'req' | 'res'>, stored: CompleteResponse, source: 'HIT' | 'MISS', now: number): 200 | 304 {
  const age = source === 'HIT' ? Math.max(0, Math.floor((now - stored.storedAt) / 1000)) : 0;
  const head = [...headerList(stored), 'x-response-cache', source];
  // A Vary set before, for this request alone (CORS: Origin), is kept: the stored one adds to it.
  const varied = res.getHeader('vary');
  if (varied !== undefined) head[head.indexOf('vary') + 1] = `${stored.headers.vary as string}, ${String(varied)}`;
  if (source === 'HIT') head.push('age', String(age));
  if (age > 0) head[head.indexOf('cache-control') + 1] = agedCacheControl(stored, age);
  // Only for GET: on other methods If-None-Match is a precondition, not a revalidation.
  if (req.method === 'GET' && ifNoneMatchHits(req.headers['if-none-match'], stored.headers.etag as string)) {
    head.splice(head.indexOf('content-type'), 2);
    res.writeHead(304, head);
    res.end();
    return 304;
  }
  res.writeHead(200, head);
  res.end(stored.body);
  return 200;
}

// Private:

/** A stored response's headers as the flat list writeHead takes, made once per stored object. */
function headerList(stored: CompleteResponse): string[] {
  let list = headerLists.get(stored);
  if (list === undefined) {
    list = Object.entries(stored.headers).flat();
    headerLists.set(stored, list);
  }
  return list;
}

const headerLists = new WeakMap<CompleteResponse, string[]>();

/** cacheControlAtAge, computed once per stored object and age in seconds. */
function agedCacheControl(stored: CompleteResponse, age: number): string {
  const last = agedHeaders.get(stored);
  if (last?.age === age) return last.header;
  const header = cacheControlAtAge(stored.headers['cache-control'] as string, age);
  agedHeaders.set(stored, { age, header });
  return header;
}

const agedHeaders = new WeakMap<CompleteResponse, { age: number; header: string }>();
