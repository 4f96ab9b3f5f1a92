import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpLimits } from '../config/httpLimits.ts';
import { ClientGoneError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { answerClientError } from './clientErrorAnswer.ts';
import { sendJsonError } from './errorResponses.ts';
import { assignRequestId } from './requestId.ts';
import { declaresTooLargeBody } from './requestBody.ts';

/** Answers one request on one path. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface HttpServer {
  readonly server: Server;
  /** Serves `routes` by exact pathname (the query string aside); anything else is a 404. */
  route(routes: Readonly<Record<string, RouteHandler>>): void;
  /** Listens on `port` (0: any free port) and resolves to the base URL. */
  listen(port: number, host: string): Promise<string>;
  /** Stops listening if it still is (Apollo's drain plugin normally closes it first). */
  close(): Promise<void>;
}

/** Plain node:http with the request bounds of {@link HttpLimits}; no route until {@link HttpServer.route}. */
export function createHttpServer(limits: HttpLimits, logger: Logger): HttpServer {
  const server = createServer({
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    // Node checks both timeouts on this interval (30 s by default), so a slow client is cut off
    // at most a second past its bound.
    connectionsCheckingInterval: 1000,
  });
  let routes: Readonly<Record<string, RouteHandler>> = {};

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const requestId = assignRequestId(req, res);
    dispatch(req, res).catch((error: unknown) => {
      // A client that hung up is not the server's failure: no error line for anyone to flood.
      if (error instanceof ClientGoneError) logger.debug({ err: error, url: req.url, requestId }, 'client went away');
      else logger.error({ err: error, url: req.url, requestId }, 'request failed');
      if (!res.headersSent && !res.destroyed) sendJsonError(res, 500, 'Internal server error.');
      else res.destroy();
    });
  });
  // Headers over Node's limit (a long GET) get a JSON 431 that says to use POST; other parser errors, Node's own answer.
  server.on('clientError', answerClientError);
  // Node answers `Expect: 100-continue` itself unless this is handled: only a body that would be
  // read is asked for, and a declared one over the limit is refused (413) without being sent.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (!declaresTooLargeBody(req.headers, limits.maxBodyBytes)) res.writeContinue();
    server.emit('request', req, res);
  });

  async function dispatch(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = (req.url ?? '/').split('?', 1)[0] ?? '/';
    const handler = Object.hasOwn(routes, pathname) ? routes[pathname] : undefined;
    if (handler) return handler(req, res);
    sendJsonError(res, 404, `No route for ${pathname}; the API is at /graphql.`);
  }

  return {
    server,
    route(table) {
      routes = table;
    },
    async listen(port, host) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          // A later server error is not this listen's to swallow.
          server.off('error', reject);
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    },
    async close() {
      if (!server.listening) return;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
