// `npm run bench`: read-path throughput of the API with each cache configuration, on one machine in
// one run. Everything it creates (a database, Redis keys, server processes) is its own and is removed
// at the end, also when it fails. Parameters: see params.ts.
import path from 'node:path';
import { createBenchDatabase, prepareCatalog, type BenchDatabase } from './benchDatabase.ts';
import { Cleanup } from './cleanup.ts';
import { CONFIGURATIONS, expectedTierStates, type Configuration } from './configurations.ts';
import { postQuery, QUERY } from './graphqlRequest.ts';
import { runLoad } from './load.ts';
import { readParams, runBudgetMs } from './params.ts';
import { RedisKeyspace } from './redisKeyspace.ts';
import { describeMachine, describeParams, formatTable, writeJsonReport, type Measurement } from './report.ts';
import { startServer, type Readiness } from './serverProcess.ts';

const REPORT_FILE = path.resolve(import.meta.dirname, '../reports/bench-read-path.json');

const params = readParams();
const cleanup = new Cleanup();
abortOnSignalOrTimeout(runBudgetMs(params, CONFIGURATIONS.length));
let exitCode = 1;
try {
  exitCode = await bench();
} catch (error) {
  // After a signal or the watchdog the reason was already printed; the error is just the run unwinding.
  if (!cleanup.closing) console.error('bench: FAILED:', error);
} finally {
  await cleanup.run();
}
// Explicit: nothing left behind (a socket, a timer) may keep the bench from ending.
process.exit(exitCode);

/** The whole run; resolves to the exit code (1 when a configuration answered differently from the baseline). */
async function bench(): Promise<number> {
  const machine = describeMachine();
  const parameters = describeParams(params, QUERY);
  console.log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.platform}`);
  console.log(`parameters: products=${params.products} seconds=${params.seconds} connections=${params.connections}`);
  console.log(`query: ${QUERY}`);

  const keyspace = await RedisKeyspace.open(params.redisUrl);
  cleanup.defer('delete the Redis keys', () => deleteKeys(keyspace));
  const database = await createBenchDatabase(params.serverUrl);
  cleanup.defer('drop the database', async () => {
    await database.drop();
    log(`dropped database ${database.name}`);
  });
  log(`created database ${database.name}; migrating and seeding ${params.products} products`);
  await prepareCatalog(database.url, params.products);

  const measurements: Measurement[] = [];
  let baselineBody: string | undefined;
  for (const configuration of CONFIGURATIONS) {
    // After a signal or the watchdog, cleanup is under way: starting another server would race it.
    if (cleanup.closing) throw new Error('aborted');
    const run = await measure(configuration, database, keyspace, baselineBody);
    baselineBody ??= run.body;
    measurements.push(run.measurement);
  }

  console.log(`\n${formatTable(measurements)}\n`);
  await writeJsonReport(REPORT_FILE, machine, parameters, measurements);
  log(`wrote ${path.relative(process.cwd(), REPORT_FILE)}`);
  return reportCorrectness(measurements);
}

/**
 * Starts the configuration's server, warms it with one request, checks one response against the
 * baseline (the first configuration's; undefined while measuring that one), loads it, stops it.
 */
async function measure(
  configuration: Configuration,
  database: BenchDatabase,
  keyspace: RedisKeyspace,
  baselineBody: string | undefined,
): Promise<{ measurement: Measurement; body: string }> {
  log(`starting "${configuration.name}" (CACHE_TIERS='${configuration.cacheTiers}')`);
  const server = await startServer({
    LOG_LEVEL: 'warn',
    DATABASE_URL: database.url,
    REDIS_URL: params.redisUrl,
    CACHE_PREFIX: keyspace.prefix,
    CACHE_TIERS: configuration.cacheTiers,
  });
  cleanup.defer(`stop the "${configuration.name}" server`, server.stop);
  try {
    checkTiers(configuration, server.readiness);
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

/** A tier that did not come up (e.g. Redis unreachable: the server then serves without L3) would make the row a lie. */
function checkTiers(configuration: Configuration, readiness: Readiness): void {
  const expected = expectedTierStates(configuration);
  for (const [tier, state] of Object.entries(expected)) {
    if (readiness.tiers[tier] !== state) {
      throw new Error(`"${configuration.name}": /health/ready reports ${tier} ${readiness.tiers[tier]}, expected ${state}`);
    }
  }
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

/** 0 when every configuration answered exactly like the baseline, before and during the load. */
function reportCorrectness(measurements: readonly Measurement[]): number {
  const wrong = measurements.filter((m) => !m.matchesBaseline || m.load.mismatches > 0);
  if (wrong.length === 0) return 0;
  console.error(`bench: CORRECTNESS CHECK FAILED for: ${wrong.map((m) => `"${m.configuration.name}"`).join(', ')}`);
  return 1;
}

async function deleteKeys(keyspace: RedisKeyspace): Promise<void> {
  try {
    log(`deleted ${await keyspace.deleteAll()} Redis keys under ${keyspace.prefix}`);
  } finally {
    await keyspace.close();
  }
}

/** Ctrl-C, a SIGTERM or a run over budget still cleans up (the exit hook in serverProcess.ts kills any server left). */
function abortOnSignalOrTimeout(budgetMs: number): void {
  const abort = (reason: string, code: number) => {
    console.error(`bench: ${reason}; cleaning up`);
    void cleanup.run().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => abort('interrupted', 130));
  process.once('SIGTERM', () => abort('terminated', 143));
  setTimeout(() => abort(`still running after ${budgetMs} ms`, 1), budgetMs).unref();
}

function log(message: string): void {
  console.log(`bench: ${message}`);
}
