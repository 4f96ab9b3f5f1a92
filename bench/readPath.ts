// Read-path throughput with each cache configuration: the same nested query, the same load, one
// server per configuration, every response checked against the caching-off answer.
import { CONFIGURATIONS, type Configuration } from './configurations.ts';
import { postQuery, QUERY } from './graphqlRequest.ts';
import { runLoad, type LoadResult } from './load.ts';
import { formatColumns } from './report.ts';
import { log, startServers, type BenchContext, type Section } from './section.ts';
import { ratio } from './stats.ts';

/** One configuration's outcome. */
export interface Measurement {
  configuration: Configuration;
  load: LoadResult;
  /** Whether a response fetched before the load equalled the baseline's body. */
  matchesBaseline: boolean;
}

export const readPathSection: Section = {
  name: 'read-path',
  title: `Read path: req/s and latency by tier configuration`,
  report: 'read-path',
  budgetMs: (params) => CONFIGURATIONS.length * (90_000 + params.seconds * 1000),
  async run(context) {
    const measurements: Measurement[] = [];
    let baselineBody: string | undefined;
    for (const configuration of CONFIGURATIONS) {
      const run = await measure(context, configuration, baselineBody);
      baselineBody ??= run.body;
      measurements.push(run.measurement);
    }
    const wrong = measurements.filter((m) => !m.matchesBaseline || m.load.mismatches > 0);
    return {
      table: `query: ${QUERY}\n${formatTable(measurements)}`,
      report: { query: QUERY, results: reportRows(measurements) },
      problems: wrong.map((m) => `read path: "${m.configuration.name}" answered differently from "${CONFIGURATIONS[0]?.name}"`),
    };
  },
};

/**
 * Starts the configuration's server, warms it with one request, checks one response against the
 * baseline (the first configuration's; undefined while measuring that one), loads it, stops it.
 */
async function measure(context: BenchContext, configuration: Configuration, baselineBody: string | undefined): Promise<{ measurement: Measurement; body: string }> {
  const { params } = context;
  log(`starting "${configuration.name}" (CACHE_TIERS='${configuration.cacheTiers}')`);
  const [server] = await startServers(context, 1, { cachePrefix: context.keyspace.subPrefix('read-path'), cacheTiers: configuration.cacheTiers });
  if (!server) throw new Error('no server started');
  try {
    await postQuery(server.url); // warm-up: fills the tiers this configuration has
    const body = await postQuery(server.url); // the checked response, served by those tiers
    const expectedBody = baselineBody ?? body;
    const matchesBaseline = body === expectedBody;
    if (!matchesBaseline) printMismatch(configuration, expectedBody, body);
    log(`loading "${configuration.name}" at ${server.url} for ${params.seconds} s with ${params.connections} connections`);
    const load = await runLoad(server.url, { seconds: params.seconds, connections: params.connections, expectedBody });
    return { measurement: { configuration, load, matchesBaseline }, body };
  } finally {
    await server.stop();
  }
}

/** A fixed-width table; the ratio is req/s relative to the first (baseline) measurement. */
function formatTable(measurements: readonly Measurement[]): string {
  const baseline = measurements[0]?.load.requestsPerSecond ?? 0;
  const header = ['configuration', 'CACHE_TIERS', 'req/s', 'p50 ms', 'p99 ms', 'errors/non-2xx', 'bad bodies', 'vs off'];
  const rows = measurements.map(({ configuration, load }) => [
    configuration.name,
    configuration.cacheTiers === '' ? "''" : configuration.cacheTiers,
    load.requestsPerSecond.toFixed(1),
    String(load.p50Ms),
    String(load.p99Ms),
    `${load.errors}/${load.non2xx}`,
    String(load.mismatches),
    ratio(load.requestsPerSecond, baseline),
  ]);
  return formatColumns(header, rows, 2);
}

function reportRows(measurements: readonly Measurement[]) {
  const baseline = measurements[0]?.load.requestsPerSecond ?? 0;
  return measurements.map(({ configuration, load, matchesBaseline }) => ({
    configuration: configuration.name,
    cacheTiers: configuration.cacheTiers,
    ...load,
    ratioToBaseline: baseline > 0 ? load.requestsPerSecond / baseline : null,
    matchesBaseline,
  }));
}

function printMismatch(configuration: Configuration, expected: string, actual: string): void {
  let at = 0;
  while (at < expected.length && expected[at] === actual[at]) at += 1;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 80), at + 80));
  console.error(
    [
      '',
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      `!!! CORRECTNESS: "${configuration.name}" answered differently from "${CONFIGURATIONS[0]?.name}"`,
      `!!! first difference at character ${at}`,
      `!!! expected: ${around(expected)}`,
      `!!! actual:   ${around(actual)}`,
      '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
      '',
    ].join('\n'),
  );
}
