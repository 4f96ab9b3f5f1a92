// `npm run bench`: how the caches behave, on one machine in one run. The read path (throughput by
// tier configuration, the whole-response tier against Apollo's response cache and a fixed-bytes
// server, and other clients' hits beside a hostile client with the operation limits on and off),
// then the write path and the fleet: stampede control, latency through a TTL expiry with
// and without XFetch, invalidation propagation between instances, tag memory under a
// create/delete workload, and Redis faults under a steady load. Everything it creates (a database,
// Redis keys, server processes) is its own and is removed at the end, also when it fails.
// Parameters: see params.ts.
//
//     npm run bench                              every section
//     npm run bench -- --only stampede           one section (or several, comma-separated)
import path from 'node:path';
import { parseArgs } from 'node:util';
import { abuseSection } from './abuse.ts';
import { createBenchDatabase, prepareCatalog } from './benchDatabase.ts';
import { Cleanup } from './cleanup.ts';
import { edgeSection } from './edge.ts';
import { metricsSection } from './metrics.ts';
import { faultsSection } from './faults.ts';
import { readParams, setupBudgetMs } from './params.ts';
import { propagationSection } from './propagation.ts';
import { readPathSection } from './readPath.ts';
import { RedisKeyspace } from './redisKeyspace.ts';
import { describeMachine, describeParams, writeJsonReport } from './report.ts';
import { responseTierSection } from './responseTier.ts';
import { log, type BenchContext, type Section, type SectionOutcome } from './section.ts';
import { stampedeSection } from './stampede.ts';
import { tagMemorySection } from './tagMemory.ts';
import { xfetchExpirySection } from './xfetchExpiry.ts';

/** Every section, in the order a full run measures them. */
const SECTIONS: readonly Section[] = [readPathSection, responseTierSection, edgeSection, metricsSection, abuseSection, stampedeSection, xfetchExpirySection, propagationSection, tagMemorySection, faultsSection];

const REPORT_FILES: Record<Section['report'], string> = {
  'read-path': path.resolve(import.meta.dirname, '../reports/bench-read-path.json'),
  'write-path': path.resolve(import.meta.dirname, '../reports/bench-write-path.json'),
};

const params = readParams();
const sections = selectSections(process.argv.slice(2));
const cleanup = new Cleanup();
abortOnSignalOrTimeout(setupBudgetMs(params) + sections.reduce((sum, section) => sum + section.budgetMs(params), 0));
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

/** The whole run; resolves to the exit code: 1 when a section failed or saw a wrong answer. */
async function bench(): Promise<number> {
  const startedAt = performance.now();
  const machine = describeMachine();
  const parameters = describeParams(params);
  console.log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), node ${machine.node}, ${machine.platform}`);
  console.log(
    `parameters: ${Object.entries(parameters)
      .map(([name, value]) => `${name}=${value}`)
      .join(' ')}`,
  );
  console.log(`sections: ${sections.map((s) => s.name).join(', ')}`);

  const keyspace = await RedisKeyspace.open(params.redisUrl);
  cleanup.defer('delete the Redis keys', () => deleteKeys(keyspace));
  const database = await createBenchDatabase(params.serverUrl);
  cleanup.defer('drop the database', async () => {
    await database.drop();
    log(`dropped database ${database.name}`);
  });
  log(`created database ${database.name}; migrating and seeding ${params.products} products`);
  await prepareCatalog(database.url, params.products);
  const context: BenchContext = { params, database, keyspace, cleanup };

  const outcomes = new Map<Section, SectionOutcome | Error>();
  for (const section of sections) {
    // After a signal or the watchdog, cleanup is under way: starting another server would race it.
    if (cleanup.closing) throw new Error('aborted');
    const sectionStartedAt = performance.now();
    log(`section "${section.name}"`);
    try {
      outcomes.set(section, await section.run(context));
    } catch (error) {
      // One section failing does not lose the figures of the others.
      if (cleanup.closing) throw error;
      console.error(`bench: section "${section.name}" FAILED:`, error);
      outcomes.set(section, error as Error);
    }
    log(`section "${section.name}" took ${((performance.now() - sectionStartedAt) / 1000).toFixed(1)} s`);
  }

  printSummary(outcomes);
  for (const [report, file] of Object.entries(REPORT_FILES)) {
    const ran = [...outcomes].filter(([section]) => section.report === report);
    if (ran.length === 0) continue;
    const body = Object.fromEntries(ran.map(([section, outcome]) => [section.name, outcome instanceof Error ? { failed: outcome.message } : outcome.report]));
    await writeJsonReport(file, machine, parameters, { sections: body });
    log(`wrote ${path.relative(process.cwd(), file)}`);
  }
  log(`total ${((performance.now() - startedAt) / 1000).toFixed(1)} s (cleanup follows)`);
  return reportProblems(outcomes);
}

/** `--only a,b` (or repeated `--only`): those sections, in the run's order; nothing: all of them. */
function selectSections(args: string[]): readonly Section[] {
  const { values } = parseArgs({ args, options: { only: { type: 'string', multiple: true } }, strict: true });
  if (values.only === undefined) return SECTIONS;
  const names = new Set(
    values.only
      .flatMap((value) => value.split(','))
      .map((name) => name.trim())
      .filter(Boolean),
  );
  const unknown = [...names].filter((name) => !SECTIONS.some((s) => s.name === name));
  if (unknown.length > 0) {
    console.error(`bench: unknown section ${unknown.join(', ')}; sections are ${SECTIONS.map((s) => s.name).join(', ')}`);
    process.exit(2);
  }
  return SECTIONS.filter((section) => names.has(section.name));
}

function printSummary(outcomes: ReadonlyMap<Section, SectionOutcome | Error>): void {
  console.log('\n================================ summary ================================');
  for (const [section, outcome] of outcomes) {
    console.log(`\n## ${section.title}\n`);
    console.log(outcome instanceof Error ? `FAILED: ${outcome.message}` : outcome.table);
  }
  console.log('');
}

/** 0 when every section ran and saw no wrong answer. */
function reportProblems(outcomes: ReadonlyMap<Section, SectionOutcome | Error>): number {
  const problems = [...outcomes].flatMap(([section, outcome]) => (outcome instanceof Error ? [`section "${section.name}" failed: ${outcome.message}`] : outcome.problems));
  for (const problem of problems) console.error(`bench: CHECK FAILED: ${problem}`);
  return problems.length === 0 ? 0 : 1;
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
  // A rejection nobody awaited would otherwise end the process without its cleanup.
  process.once('unhandledRejection', (error) => {
    console.error('bench: unhandled rejection:', error);
    abort('unhandled rejection', 1);
  });
  setTimeout(() => abort(`still running after ${budgetMs} ms`, 1), budgetMs).unref();
}
