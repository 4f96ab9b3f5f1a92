import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * What serves the catalog page to the browser: its HTML and script and, when it has an API behind
 * it, `/graphql` proxied there, as a site's own front server (or a load balancer without a cache)
 * does. The page and the API then share one origin, and the browser's HTTP cache sees the API's
 * headers as they are: nothing is intercepted in the browser (Playwright's routing would turn
 * Chromium's HTTP cache off).
 *
 * Without an API it serves the page alone, whose requests then go to the API's own origin
 * (`?api=`): a second site, for CORS.
 */
export interface FrontServerOptions {
  /** The page's script (see bundle.ts). */
  readonly script: string;
  /** Base URL of the API to proxy `/graphql` to; undefined: no proxy. */
  readonly api?: string;
}

/** One request proxied to the API, and the API's answer, as the proxy saw them. */
export interface ProxiedExchange {
  readonly method: string;
  readonly url: string;
  readonly ifNoneMatch: string | undefined;
  readonly authorization: boolean;
  readonly status: number;
  /** The API's Cache-Control: whether the browser may keep the answer. */
  readonly cacheControl: string | undefined;
}

export class FrontServer {
  /** Every request proxied to the API, in the order answered. */
  readonly exchanges: ProxiedExchange[] = [];

  private constructor(
    private readonly server: Server,
    /** The page's origin and base URL, e.g. http://127.0.0.1:40123 */
    readonly url: string,
  ) {}

  static async start(options: FrontServerOptions): Promise<FrontServer> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const front = new FrontServer(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => front.serve(req, res, options));
    return front;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // Private:

  private serve(req: IncomingMessage, res: ServerResponse, options: FrontServerOptions): void {
    const pathname = (req.url ?? '/').split('?', 1)[0];
    if (pathname === '/graphql' && options.api !== undefined) return this.proxy(req, res, options.api);
    if (pathname === '/') return send(res, 'text/html; charset=utf-8', PAGE);
    if (pathname === '/catalog.js') return send(res, 'text/javascript; charset=utf-8', options.script);
    res.writeHead(404, { 'cache-control': 'no-store' }).end();
  }

  private proxy(req: IncomingMessage, res: ServerResponse, api: string): void {
    const target = new URL(req.url ?? '/', api);
    // Hop-by-hop headers stay on this hop; everything else, conditional headers included, goes on.
    const { connection: _connection, 'keep-alive': _keepAlive, host: _host, ...headers } = req.headers;
    const upstream = request(target, { method: req.method, headers }, (answer) => {
      const exchange: ProxiedExchange = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        ifNoneMatch: req.headers['if-none-match'],
        authorization: req.headers.authorization !== undefined,
        status: answer.statusCode ?? 0,
        cacheControl: answer.headers['cache-control'],
      };
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
      // Recorded in the tick the answer ends: by the time the page has it, the test sees the exchange.
      answer.once('end', () => this.exchanges.push(exchange));
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'cache-control': 'no-store' });
      res.end();
    });
    req.pipe(upstream);
  }
}

// Private:

const PAGE = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>Catalog</title><link rel="icon" href="data:,"></head>
  <body>
    <p id="product"></p>
    <p id="viewer"></p>
    <p id="error"></p>
    <script type="module" src="/catalog.js"></script>
  </body>
</html>`;

function send(res: ServerResponse, contentType: string, body: string): void {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' }).end(body);
}
