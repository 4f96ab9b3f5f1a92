import { integer, type Env } from './environment.ts';

/** Bounds on one HTTP request: what a client can make the server read, hold and wait for. */
export interface HttpLimits {
  /** `MAX_BODY_BYTES`: a POST body over this is refused with 413, from its Content-Length when it declares one. @default 1048576 (1 MiB) */
  maxBodyBytes: number;
  /** `MAX_QUERY_BYTES`: a query text over this is refused with 413 before it is parsed. @default 65536 (64 KiB) */
  maxQueryBytes: number;
  /** `MAX_RESPONSE_BYTES`: a response over this is replaced by a RESPONSE_TOO_LARGE error, and never stored. @default 1048576 (1 MiB) */
  maxResponseBytes: number;
  /** `RESPONSE_CACHE_MAX_BYTES`: the response tier stores no response over this. @default 262144 (256 KiB) */
  maxStoredResponseBytes: number;
  /**
   * `MAX_URL_BYTES`: a request whose URL (path and query string) is longer is refused with 414,
   * saying to send the query by POST; set it to what the proxies in front pass (often 8192), so a
   * GET they would refuse is refused here first, with that advice. At most 16384: Node's limit on
   * the request line and headers together, past which the socket gets a 431 with the same advice
   * before any request exists (http/clientErrorAnswer.ts). At the default, that 431 is the only
   * limit. @default 16384
   */
  maxUrlBytes: number;
  /** `HTTP_HEADERS_TIMEOUT_MS`: a client must send its request headers within this. @default 10000 */
  headersTimeoutMs: number;
  /** `HTTP_REQUEST_TIMEOUT_MS`: a client must send its whole request, body included, within this (a slow body is cut off with 408). @default 30000 */
  requestTimeoutMs: number;
}

/** Reads {@link HttpLimits}; the first bad value throws a ConfigError naming it. */
export function readHttpLimits(env: Env): HttpLimits {
  return {
    maxBodyBytes: integer(env, 'MAX_BODY_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxQueryBytes: integer(env, 'MAX_QUERY_BYTES', 64 * 1024, 256, 1024 * 1024 * 1024),
    maxResponseBytes: integer(env, 'MAX_RESPONSE_BYTES', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxStoredResponseBytes: integer(env, 'RESPONSE_CACHE_MAX_BYTES', 256 * 1024, 0, 1024 * 1024 * 1024),
    maxUrlBytes: integer(env, 'MAX_URL_BYTES', 16 * 1024, 256, 16 * 1024),
    headersTimeoutMs: integer(env, 'HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000),
    requestTimeoutMs: integer(env, 'HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000),
  };
}
