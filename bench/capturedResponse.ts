import { REQUEST_BODY } from './graphqlRequest.ts';

/** One answer to the read-path query, as it went over the wire. */
export interface CapturedResponse {
  /** The body, byte for byte. */
  body: string;
  contentType: string;
  /** Every response header, by lower-case name. */
  headers: Record<string, string>;
  /** The parsed `data`, for comparing answers whose bytes may differ (field order, extensions). */
  data: unknown;
}

/**
 * Sends the read-path query once (the same bytes the load sends) and keeps the whole response;
 * throws on anything but a 200 with products and no errors, like postQuery (graphqlRequest.ts).
 */
export async function captureResponse(baseUrl: string): Promise<CapturedResponse> {
  const response = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: REQUEST_BODY,
    signal: AbortSignal.timeout(10_000),
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`${baseUrl}/graphql answered ${response.status}: ${body.slice(0, 500)}`);
  const parsed = JSON.parse(body) as { data?: { products?: unknown[] }; errors?: unknown[] };
  if (parsed.errors !== undefined || !Array.isArray(parsed.data?.products) || parsed.data.products.length === 0) {
    throw new Error(`${baseUrl}/graphql answered without products or with errors: ${body.slice(0, 500)}`);
  }
  return { body, contentType: response.headers.get('content-type') ?? '', headers: Object.fromEntries(response.headers), data: parsed.data };
}
