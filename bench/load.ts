import autocannon from 'autocannon';
import { REQUEST_BODY } from './graphqlRequest.ts';

export interface LoadOptions {
  seconds: number;
  connections: number;
  /** Every response body is compared with this; differences are counted as mismatches. */
  expectedBody: string;
}

/** What one load run measured; latencies in milliseconds. */
export interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts (autocannon counts timeouts as errors too). */
  errors: number;
  timeouts: number;
  non2xx: number;
  /** Responses whose body differed from {@link LoadOptions.expectedBody}. */
  mismatches: number;
}

/** Loads `baseUrl`/graphql with the bench query for a fixed time. */
export async function runLoad(baseUrl: string, options: LoadOptions): Promise<LoadResult> {
  const result = await autocannon({
    url: `${baseUrl}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: REQUEST_BODY,
    connections: options.connections,
    duration: options.seconds,
    verifyBody: (body) => body === options.expectedBody,
  });
  return {
    requests: result.requests.total,
    requestsPerSecond: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    mismatches: result.mismatches,
  };
}
