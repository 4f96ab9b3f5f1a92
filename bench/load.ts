import autocannon from 'autocannon';
import { REQUEST_BODY } from './graphqlRequest.ts';

export interface LoadOptions {
  seconds: number;
  connections: number;
  /** The POST body of every request. @default the read-path query, {@link REQUEST_BODY} */
  requestBody?: string;
  /** Request headers besides `content-type` (e.g. a browser's `origin`). @default none */
  headers?: Record<string, string>;
  /** Every response body is compared with this; differences are counted as mismatches. */
  expectedBody: string;
  /** Told of every response as it arrives, with its latency in ms: for figures over part of the run. */
  onResponse?: (latencyMs: number) => void;
}

/** What one load run measured; latencies in milliseconds. */
export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  p99_9Ms: number;
  maxMs: number;
  /** Connection errors and timeouts (autocannon counts timeouts as errors too). */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Responses whose body differed from {@link LoadOptions.expectedBody}. */
  mismatches: number;
}

/** Loads `baseUrl`/graphql with one POST body for a fixed time. */
export async function runLoad(baseUrl: string, options: LoadOptions): Promise<LoadResult> {
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `${baseUrl}/graphql`,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...options.headers },
        body: options.requestBody ?? REQUEST_BODY,
        connections: options.connections,
        duration: options.seconds,
        verifyBody: (body) => body === options.expectedBody,
      },
      (error, finished) => (error ? reject(error) : resolve(finished)),
    );
    const { onResponse } = options;
    if (onResponse) instance.on('response', (_client, _statusCode, _bytes, latencyMs) => onResponse(latencyMs));
  });
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    p99_9Ms: result.latency.p99_9,
    maxMs: result.latency.max,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
  };
}
