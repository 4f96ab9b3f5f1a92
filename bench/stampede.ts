// Stampede control: N concurrent requests for the same cold keys, spread over 3 server processes
// that share one prefix, and how many times the database loaded each key, counted from the servers'
// own `database load` lines. With L3, leases make it one load per key across the fleet; without a
// shared tier (L1+L2) each instance loads for itself, which is the contrast.
import { setTimeout as sleep } from 'node:timers/promises';
import { postGraphQLRaw } from './graphqlRequest.ts';
import { formatColumns } from './report.ts';
import { databaseLoads, keyLoadsByReason, warnings, type DatabaseLoad } from './serverLogs.ts';
import { log, startServers, stopAll, type BenchContext, type Section } from './section.ts';

const INSTANCES = 3;

/** Two products with their reviews, authors and category: about twenty keys, all cold. */
const QUERY = `query($a: ID!, $b: ID!) {
  a: product(id: $a) { id name reviews { id rating author { id name } } }
  b: product(id: $b) { id name category { id name } reviews { id } }
}`;

interface Variant {
  label: string;
  cacheTiers: string;
  /** What a correct run shows, printed next to the figure. */
  expected: string;
}

const VARIANTS: readonly Variant[] = [
  { label: 'leases on (L1+L2+L3)', cacheTiers: 'l1,l2,l3', expected: '1 per key' },
  { label: 'no shared tier, no leases (L1+L2)', cacheTiers: 'l1,l2', expected: `${INSTANCES} per key (one per instance)` },
];

export interface StampedeResult {
  label: string;
  cacheTiers: string;
  expected: string;
  requests: number;
  instances: number;
  /** Time from sending the first request to the last response. */
  burstMs: number;
  /** Distinct keys that were loaded for a waiting request. */
  keys: number;
  /** Loads per key for waiting requests ('miss' + 'wait-timeout'): the stampede figure. */
  loadsPerKey: { min: number; max: number; mean: number };
  /** Keys loaded more than once, with their count; empty when every key was loaded once. */
  keysLoadedMoreThanOnce: Record<string, number>;
  /** Key loads by reason, over every server: 'refresh' loads are background refreshes, not a stampede. */
  keyLoadsByReason: Record<DatabaseLoad['reason'], number>;
  /** Distinct warn-level (or worse) log messages of the servers. */
  warnings: string[];
  /** Responses with errors, or that differed from the first one. */
  badResponses: number;
}

export const stampedeSection: Section = {
  name: 'stampede',
  title: 'Stampede: database loads per key, concurrent cold requests over 3 instances',
  report: 'write-path',
  budgetMs: () => VARIANTS.length * 90_000,
  async run(context) {
    const ids = productIds(context.params.products);
    const results: StampedeResult[] = [];
    for (const [i, variant] of VARIANTS.entries()) results.push(await measure(context, variant, { prefix: context.keyspace.subPrefix(`stampede-${i + 1}`), ids }));
    return {
      table: formatTable(results),
      report: { query: QUERY, variables: ids, results },
      problems: results.flatMap((r) => (r.badResponses > 0 ? [`stampede "${r.label}": ${r.badResponses} bad responses`] : [])),
    };
  },
};

/** Starts 3 servers on a fresh prefix, sends every request at once, stops them and counts their loads. */
async function measure(context: BenchContext, variant: Variant, target: { prefix: string; ids: { a: string; b: string } }): Promise<StampedeResult> {
  const requests = context.params.stampedeRequests;
  log(`stampede "${variant.label}": starting ${INSTANCES} servers (CACHE_TIERS=${variant.cacheTiers}, LOG_LEVEL=debug)`);
  // Four busy processes on this machine's cores stall each server's event loop for up to a second
  // during the burst; a Redis call timing out there would make a server load for itself, which is
  // an extra load this figure would count. See test/integration/stampede.test.ts.
  const servers = await startServers(context, INSTANCES, { cachePrefix: target.prefix, cacheTiers: variant.cacheTiers, env: { LOG_LEVEL: 'debug', REDIS_COMMAND_TIMEOUT_MS: '5000' } }, { captureLogs: true });
  let responses: string[];
  let burstMs: number;
  try {
    log(`stampede "${variant.label}": ${requests} concurrent requests`);
    const urls = servers.map((server) => server.url);
    const started = performance.now();
    // Round robin, all in flight at once.
    responses = await Promise.all(Array.from({ length: requests }, async (_, i) => (await postGraphQLRaw(urls[i % urls.length] as string, QUERY, target.ids)).text));
    burstMs = performance.now() - started;
    // Background refreshes started by the burst log when they finish.
    await sleep(500);
  } finally {
    // Stopped before counting: a server's last lines are only all read once it has exited.
    await stopAll(servers);
  }

  const logs = servers.flatMap((server) => server.logs);
  const loads = databaseLoads(logs);
  const perKey = new Map<string, number>();
  for (const load of loads) {
    if (load.reason === 'refresh') continue;
    for (const key of load.keys) perKey.set(key, (perKey.get(key) ?? 0) + 1);
  }
  const counts = [...perKey.values()];
  const first = responses[0];
  return {
    label: variant.label,
    cacheTiers: variant.cacheTiers,
    expected: variant.expected,
    requests,
    instances: INSTANCES,
    burstMs,
    keys: perKey.size,
    loadsPerKey: {
      min: counts.length > 0 ? Math.min(...counts) : 0,
      max: counts.length > 0 ? Math.max(...counts) : 0,
      mean: counts.length > 0 ? counts.reduce((sum, n) => sum + n, 0) / counts.length : 0,
    },
    keysLoadedMoreThanOnce: Object.fromEntries([...perKey].filter(([, n]) => n > 1).map(([key, n]) => [key.slice(target.prefix.length), n])),
    keyLoadsByReason: keyLoadsByReason(loads),
    warnings: warnings(logs),
    badResponses: responses.filter((text) => text !== first || (JSON.parse(text) as { errors?: unknown }).errors !== undefined).length,
  };
}

/** Two seeded products (ids 1..products, 5 reviews each); the prefix, fresh per variant, is what makes them cold. */
function productIds(products: number): { a: string; b: string } {
  return { a: '1', b: String(Math.min(2, products)) };
}

function formatTable(results: readonly StampedeResult[]): string {
  const header = ['servers (3, one prefix)', 'requests', 'keys', 'loads/key min', 'max', 'mean', 'expected', 'wait-timeout', 'refresh', 'burst ms', 'warnings'];
  const rows = results.map((r) => [
    r.label,
    String(r.requests),
    String(r.keys),
    String(r.loadsPerKey.min),
    String(r.loadsPerKey.max),
    r.loadsPerKey.mean.toFixed(2),
    r.expected,
    String(r.keyLoadsByReason['wait-timeout']),
    String(r.keyLoadsByReason.refresh),
    r.burstMs.toFixed(0),
    String(r.warnings.length),
  ]);
  const notes = results.flatMap((r) => [
    ...r.warnings.map((w) => `  warning in "${r.label}": ${w}`),
    ...(r.cacheTiers.includes('l3') && r.loadsPerKey.max > 1 ? [`  loaded more than once in "${r.label}": ${JSON.stringify(r.keysLoadedMoreThanOnce)}`] : []),
  ]);
  return [formatColumns(header, rows, 1), 'loads/key counts "miss" + "wait-timeout" loads (requests waited for them); "refresh" loads (background) are counted apart, in keys.', ...notes].join('\n');
}
