import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

/**
 * Cross-origin access to /graphql from browsers (CORS), for the exact origins of
 * `Config.corsOrigins`; none: same-origin only. The decisions are pure; {@link serveCors} applies
 * them to one request.
 *
 * - Credentials are never allowed (no `Access-Control-Allow-Credentials`): the API reads a Bearer
 *   token from the `Authorization` header, which a page sets itself and the preflight allows, and
 *   no cookie. So a browser never attaches its cookies or HTTP authentication to a cross-origin call.
 * - A preflight is answered here, before the CSRF check and the response tier: it carries no
 *   operation. A refused origin gets a 403 without any `Access-Control-*` header (the browser fails
 *   the call either way; the 403 shows anyone reading the network log or a proxy's that the server
 *   refused it, where a 204 would look like success).
 * - Other responses to an allowed origin carry `Access-Control-Allow-Origin` with that origin, added
 *   per request and never stored: a stored response is served to every origin, so its headers must
 *   not name one. Every /graphql response says `Vary: Origin` once any origin is allowed, so no cache
 *   answers one origin with another's copy.
 */

/** The methods /graphql serves. */
const ALLOWED_METHODS = 'GET, POST';
/** JSON bodies, the Bearer token, Apollo's CSRF-prevention headers (which a GET needs), and a revalidation's If-None-Match. */
const ALLOWED_HEADERS = 'content-type, authorization, apollo-require-preflight, x-apollo-operation-name, if-none-match';
/**
 * Response headers a page may read beyond the safelisted ones (Cache-Control and Content-Type are):
 * the ETag, for a client that keeps its own copy and revalidates it, and Age; when to retry a 429
 * or 503, and the quota left (Retry-After, RateLimit, RateLimit-Policy); and the request id that
 * finds an error's log line. Not the tag headers, which are for CDNs.
 */
const EXPOSED_HEADERS = 'ETag, Age, Retry-After, RateLimit, RateLimit-Policy, X-Request-Id';
/** How long a browser may reuse a preflight's answer, in seconds (Chromium caps it at 7200). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** A preflight's answer. */
export interface PreflightAnswer {
  readonly status: 204 | 403;
  readonly headers: Readonly<Record<string, string>>;
}

/** Whether the request is a CORS preflight: an OPTIONS that names the method of the call to come. */
export function isPreflight(method: string | undefined, headers: IncomingHttpHeaders): boolean {
  return method === 'OPTIONS' && headers.origin !== undefined && headers['access-control-request-method'] !== undefined;
}

export function preflightAnswer(origin: string | undefined, allowed: ReadonlySet<string>): PreflightAnswer {
  const vary: Record<string, string> = allowed.size > 0 ? { vary: 'Origin' } : {};
  if (origin === undefined || !allowed.has(origin)) return { status: 403, headers: vary };
  return {
    status: 204,
    headers: {
      ...vary,
      'access-control-allow-origin': origin,
      'access-control-allow-methods': ALLOWED_METHODS,
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
    },
  };
}

/** The CORS headers of any other /graphql response (including a 304, and a response-tier hit). */
export function responseCorsHeaders(origin: string | undefined, allowed: ReadonlySet<string>): Readonly<Record<string, string>> {
  if (allowed.size === 0) return {};
  if (origin === undefined || !allowed.has(origin)) return { vary: 'Origin' };
  return { vary: 'Origin', 'access-control-allow-origin': origin, 'access-control-expose-headers': EXPOSED_HEADERS };
}

/**
 * Answers a preflight ('answered'), or sets this request's CORS headers on its response before
 * anything else writes it ('continue'). A later writer that sets its own `Vary` must add to this
 * one (ResponseTier does).
 */
export function serveCors(req: IncomingMessage, res: ServerResponse, allowed: ReadonlySet<string>): 'answered' | 'continue' {
  const origin = req.headers.origin;
  if (isPreflight(req.method, req.headers)) {
    const answer = preflightAnswer(origin, allowed);
    res.writeHead(answer.status, answer.headers).end();
    return 'answered';
  }
  for (const [name, value] of Object.entries(responseCorsHeaders(origin, allowed))) res.setHeader(name, value);
  return 'continue';
}
