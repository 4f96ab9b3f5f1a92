import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext, type HTTPGraphQLRequest } from '@apollo/server';
import { loadConfig } from '../../src/config/config.ts';
import { sendJsonError } from '../../src/http/graphqlHandler.ts';
import { BodyError, bodyFrom, readBody } from '../../src/http/requestBody.ts';

/** The project's default MAX_BODY_BYTES: the reference reads bodies as the project does. */
const REFERENCE_MAX_BODY_BYTES = loadConfig({}).http.maxBodyBytes;

/**
 * Serves /graphql through Apollo on plain node:http: Apollo's own integration contract (an
 * HTTPGraphQLRequest in, its response written back) and nothing else. It is the project's wiring from
 * before the response tier, kept here so the reference does not change with src/http/graphqlHandler.ts,
 * which now holds the response tier itself.
 */
export async function handleWithApollo<C extends BaseContext>(req: IncomingMessage, res: ServerResponse, graphql: { server: ApolloServer<C>; context: () => Promise<C> }): Promise<void> {
  const text = req.method === 'POST' ? await readBody(req, REFERENCE_MAX_BODY_BYTES) : undefined;
  if (text instanceof BodyError) return sendJsonError(res, text.status, text.message);
  const body = bodyFrom(req, text);
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
