import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLRequest } from '@apollo/server';

/** Bodies above this are refused with 413 before they are parsed (as src/http/graphqlHandler.ts does). */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Serves /graphql through Apollo on plain node:http: Apollo's own integration contract (an
 * HTTPGraphQLRequest in, its response written back) and nothing else. It is the project's wiring from
 * before the response tier, kept here so the reference does not change with src/http/graphqlHandler.ts,
 * which now holds the response tier itself.
 */
export async function handleWithApollo<C extends BaseContext>(
  req: IncomingMessage,
  res: ServerResponse,
  graphql: { server: ApolloServer<C>; context: () => Promise<C> },
): Promise<void> {
  const body = await readJsonBody(req);
  if (body instanceof BodyError) return sendJsonError(res, body.status, body.message);
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const url = req.url ?? '/';
  const request: HTTPGraphQLRequest = {
    method: (req.method ?? 'GET').toUpperCase(),
    headers,
    search: url.includes('?') ? url.slice(url.indexOf('?')) : '',
    body,
  };
  const response = await graphql.server.executeHTTPGraphQLRequest({ httpGraphQLRequest: request, context: graphql.context });
  for (const [name, value] of response.headers) res.setHeader(name, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') return void res.end(response.body.string);
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

export function sendJsonError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end(JSON.stringify({ errors: [{ message, extensions: { code: status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST' } }] }));
}

// Private:

class BodyError {
  constructor(
    readonly status: number,
    readonly message: string,
  ) {}
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  if (req.method !== 'POST') return undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) return new BodyError(413, `Request body exceeds ${MAX_BODY_BYTES} bytes.`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const type = req.headers['content-type'] ?? '';
  // Apollo decides what a non-JSON body means (its CSRF prevention refuses it with 400).
  if (!type.toLowerCase().startsWith('application/json')) return text.length === 0 ? undefined : text;
  if (text.length === 0) return new BodyError(400, 'POST body is empty; send a JSON object with a "query".');
  try {
    return JSON.parse(text);
  } catch (error) {
    return new BodyError(400, `POST body is not valid JSON: ${(error as Error).message}`);
  }
}
