// Latency through a TTL expiry, XFetch on and off: one server, grace off (so an expiry is not hidden
// by stale-while-revalidate), steady load on one hot product for a window that spans the expiry of
// its entry. With XFetch off the reads that arrive as the entry expires wait for a database load;
// with it on, a read shortly before the expiry refreshes the entry in the background, and ideally no
// read waits. The loads are counted from the server's `database load` lines.
import { postGraphQLRaw } from './graphqlRequest.ts';
import { runLoad, type LoadResult } from './load.ts';
import { formatColumns, ms } from './report.ts';
import { databaseLoads, keyLoadsByReason, warnings, type DatabaseLoad } from './serverLogs.ts';
import { log, startServers, type BenchContext, type Section } from './section.ts';
import { distribution, ratio, type Distribution } from './stats.ts';

/** The product row's fields only: one cached entry, whose TTL is 10 s (its `stock` is `@cacheControl(maxAge: 10)`). */
const QUERY = `query($id: ID!) { product(id: $id) { id sku name priceCents stock } }`;
const PRODUCT_TTL_SECONDS = 10;
/** The responses that end this soon after the first entry's expiry are the ones an expiry can stall. */
const AFTER_EXPIRY_MS = 500;

interface Variant {
  label: string;
  /** CACHE_XFETCH_BETA */
  beta: string;
}

const VARIANTS: readonly Variant[] = [
  { label: 'XFetch on (beta 1)', beta: '1' },
  { label: 'XFetch off (beta 0)', beta: '0' },
];

export interface ExpiryResult {
  label: string;
  beta: number;
  /** Seconds from the warming load (the entry's birth) to the start of the load window. */
  windowStartsAfterS: number;
  windowS: number;
  /** autocannon's figures for the window. */
  load: LoadResult;
  /**
   * Latency (ms) of the responses that ended within {@link AFTER_EXPIRY_MS} of the moment the warmed
   * entry expires (or would have, had XFetch not refreshed it): where a miss shows.
   */
  afterExpiryMs: Distribution;
  /**
   * Latency (ms) of the responses in flight when a load of the window finished: with XFetch off the
   * requests that waited for the miss, with it on the ones served while the refresh ran behind them.
   */
  inFlightAtLoadMs: Distribution;
  /** Loads of the product during the window, by reason: 'miss' made requests wait, 'refresh' ran behind them. */
  loadsInWindow: Record<DatabaseLoad['reason'], number>;
  /** When each load of the window happened, in seconds from the warming load. */
  loadTimesS: { at: number; reason: DatabaseLoad['reason'] }[];
  warnings: string[];
}

export const xfetchExpirySection: Section = {
  name: 'xfetch',
  title: 'Latency through a TTL expiry (hot Product, data TTL 10 s, CACHE_GRACE=off): XFetch on vs off',
  report: 'write-path',
  budgetMs: (params) => VARIANTS.length * (60_000 + params.expirySeconds * 1000),
  async run(context) {
    const results: ExpiryResult[] = [];
    for (const variant of VARIANTS) results.push(await measure(context, variant));
    const badBodies = results.filter((r) => r.load.mismatches > 0 || r.load.non2xx > 0 || r.load.errors > 0);
    return {
      table: formatTable(results, context.params.connections),
      report: { query: QUERY, productId: hotProductId(context.params.products), connections: context.params.connections, results },
      problems: badBodies.map((r) => `xfetch "${r.label}": ${r.load.errors} errors, ${r.load.non2xx} non-2xx, ${r.load.mismatches} bad bodies`),
    };
  },
};

/** Starts the server, loads the entry once (its TTL starts then), and loads it steadily across its expiry. */
async function measure(context: BenchContext, variant: Variant): Promise<ExpiryResult> {
  const { params } = context;
  const variables = { id: hotProductId(params.products) };
  log(`xfetch "${variant.label}": starting a server (CACHE_GRACE=off, CACHE_XFETCH_BETA=${variant.beta}, LOG_LEVEL=debug)`);
  const [server] = await startServers(
    context,
    1,
    { cachePrefix: context.keyspace.subPrefix(`xfetch-beta-${variant.beta}`), env: { LOG_LEVEL: 'debug', CACHE_GRACE: 'off', CACHE_XFETCH_BETA: variant.beta } },
    { captureLogs: true },
  );
  if (!server) throw new Error('no server started');
  let load: LoadResult;
  let windowStart: number;
  const responses: { endedAt: number; latencyMs: number }[] = [];
  try {
    // The warming read loads the row: the entry expires TTL seconds after that load.
    const { text: expectedBody } = await postGraphQLRaw(server.url, QUERY, variables);
    windowStart = Date.now();
    log(`xfetch "${variant.label}": ${params.connections} connections for ${params.expirySeconds} s`);
    load = await runLoad(server.url, {
      seconds: params.expirySeconds,
      connections: params.connections,
      requestBody: JSON.stringify({ query: QUERY, variables }),
      expectedBody,
      onResponse: (latencyMs) => responses.push({ endedAt: Date.now(), latencyMs }),
    });
  } finally {
    await server.stop();
  }
  const loads = databaseLoads(server.logs).filter((l) => l.kind === 'Product');
  const born = loads[0]?.time ?? windowStart;
  const inWindow = loads.filter((l) => l.time >= windowStart);
  const expiresAt = born + PRODUCT_TTL_SECONDS * 1000;
  const afterExpiry = responses.filter((r) => r.endedAt >= expiresAt && r.endedAt < expiresAt + AFTER_EXPIRY_MS);
  const inFlightAtLoad = responses.filter((r) => inWindow.some((l) => r.endedAt - r.latencyMs <= l.time && l.time <= r.endedAt));
  return {
    label: variant.label,
    beta: Number(variant.beta),
    windowStartsAfterS: (windowStart - born) / 1000,
    windowS: params.expirySeconds,
    load,
    afterExpiryMs: distribution(afterExpiry.map((r) => r.latencyMs)),
    inFlightAtLoadMs: distribution(inFlightAtLoad.map((r) => r.latencyMs)),
    loadsInWindow: keyLoadsByReason(inWindow),
    loadTimesS: inWindow.map((l) => ({ at: Number(((l.time - born) / 1000).toFixed(3)), reason: l.reason })),
    warnings: warnings(server.logs),
  };
}

/** A seeded product no other section writes. */
function hotProductId(products: number): string {
  return String(Math.min(3, products));
}

function formatTable(results: readonly ExpiryResult[], connections: number): string {
  const header = [
    'run',
    'req/s',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    `expiry+${AFTER_EXPIRY_MS}ms: n`,
    'p99 ms',
    'max ms',
    'in flight at load: n',
    'p50 ms',
    'max ms',
    "'miss' loads",
    "'refresh' loads",
    'errors',
    'warnings',
  ];
  const rows = results.map(({ label, load, afterExpiryMs, inFlightAtLoadMs, loadsInWindow, warnings: w }) => [
    label,
    load.requestsPerSecond.toFixed(1),
    String(load.p50Ms),
    String(load.p99Ms),
    String(load.p99_9Ms),
    String(load.maxMs),
    String(afterExpiryMs.count),
    ms(afterExpiryMs.p99),
    ms(afterExpiryMs.max),
    String(inFlightAtLoadMs.count),
    ms(inFlightAtLoadMs.p50),
    ms(inFlightAtLoadMs.max),
    String(loadsInWindow.miss + loadsInWindow['wait-timeout']),
    String(loadsInWindow.refresh),
    String(load.errors + load.non2xx + load.mismatches),
    String(w.length),
  ]);
  const on = results.find((r) => r.beta > 0);
  const off = results.find((r) => r.beta === 0);
  const lines = [formatColumns(header, rows, 1)];
  if (on && off) {
    lines.push(
      `off / on, whole window: p99 ${ratio(off.load.p99Ms, on.load.p99Ms)}, p99.9 ${ratio(off.load.p99_9Ms, on.load.p99_9Ms)}, max ${ratio(off.load.maxMs, on.load.maxMs)}; ` +
        `in the ${AFTER_EXPIRY_MS} ms after the expiry: p99 ${ratio(off.afterExpiryMs.p99, on.afterExpiryMs.p99)}, max ${ratio(off.afterExpiryMs.max, on.afterExpiryMs.max)}`,
    );
  }
  lines.push(
    `${connections} connections for ${results[0]?.windowS ?? '?'} s each, starting ${results.map((r) => r.windowStartsAfterS.toFixed(1)).join(' / ')} s after the warming load; the entry expires ${PRODUCT_TTL_SECONDS} s after each load.`,
    ...results.map(
      (r) =>
        `"${r.label}": loads at ${r.loadTimesS.map((l) => `${l.at.toFixed(2)} s (${l.reason})`).join(', ') || 'none'} after warming; ` +
        `${r.inFlightAtLoadMs.count} of ${r.load.requests} requests (${((100 * r.inFlightAtLoadMs.count) / Math.max(1, r.load.requests)).toFixed(3)}%) in flight at a load`,
    ),
    'A miss stalls only the requests in flight at that moment (one per connection), far fewer than 1 in 1,000: the whole-window p99 and p99.9 cannot show it; the columns after the expiry and at the load do.',
    ...results.flatMap((r) => r.warnings.map((w) => `warning in "${r.label}": ${w}`)),
  );
  return lines.join('\n');
}
