// The whole-response tier (RESPONSE_CACHE) between what it must beat and what it cannot beat: the
// read-path query, warm, on four servers one after another under the same load. This server with the
// tier off and on; Apollo Server 5 with its own response cache plugin over the same schema and
// database (apolloReference/); and node:http answering with the tier's own bytes (fixedResponse/).
// Then a short profiled run of the tier-on server, to show where a hit's time goes.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import type { OperationCounters } from './apolloReference/operationCounters.ts';
import { readCpuProfile, summariseSelfTime, type SelfTimeSummary } from './cpuProfile.ts';
import { captureResponse, QUERY, type CapturedResponse } from './graphqlRequest.ts';
import { runLoad, type LoadResult } from './load.ts';
import { formatColumns, ms } from './report.ts';
import { log, startServers, type BenchContext, type Section } from './section.ts';
import { startServer, type ServerProcess } from './serverProcess.ts';

/** The four servers, in the order they are measured (the fixed-bytes server needs the tier's bytes). */
type ServerName = 'tier off' | 'tier on' | 'reference' | 'plain';

interface Measurement {
  name: ServerName;
  /** What the server is, for the table. */
  what: string;
  /** The checked response: the second one, after a first that filled whatever it caches. */
  response: CapturedResponse;
  /** Whether its `data` equals the tier-off server's. */
  dataMatches: boolean;
  load: LoadResult;
  /**
   * CPU the bench process (autocannon) used during the load, in cores. Near 1, the load generator
   * rather than the server may be what limits req/s.
   */
  loadGeneratorCores: number;
  /** The reference only: what its counters moved by during the measured load. */
  referenceCounters?: OperationCounters;
}

/** A floor of the issue: `numerator / denominator` of req/s must reach `floor`; `aim` is the target. */
interface Floor {
  label: string;
  numerator: ServerName;
  denominator: ServerName;
  floor: number;
  aim: number;
}

const FLOORS: readonly Floor[] = [
  { label: 'tier on / reference', numerator: 'tier on', denominator: 'reference', floor: 3, aim: 5 },
  { label: 'tier on / plain', numerator: 'tier on', denominator: 'plain', floor: 0.25, aim: 0.5 },
];

/** Ratios printed without a floor. */
const RATIOS: readonly { label: string; numerator: ServerName; denominator: ServerName }[] = [...FLOORS, { label: 'tier off / reference', numerator: 'tier off', denominator: 'reference' }];

/** A short load before the measured one, so every server is measured with its hot path compiled. */
const WARMUP_SECONDS = 1;
/** The profiled run: long enough for a few thousand samples at V8's default 1 ms interval. */
const PROFILE_SECONDS = 5;
/** Functions listed from the profile. */
const PROFILE_TOP = 12;
const REPO_ROOT = path.resolve(import.meta.dirname, '..');

export const responseTierSection: Section = {
  name: 'response-tier',
  title: 'Response tier: a warm hit against Apollo response cache and a fixed-bytes server',
  report: 'read-path',
  budgetMs: (params) => 5 * 60_000 + (4 * (params.seconds + WARMUP_SECONDS) + PROFILE_SECONDS + WARMUP_SECONDS) * 1000,
  async run(context) {
    const workDir = await mkdtemp(path.join(os.tmpdir(), 'bench-response-tier-'));
    context.cleanup.defer(`remove ${workDir}`, () => rm(workDir, { recursive: true, force: true }));

    const tierOff = await measure(context, { name: 'tier off', what: 'RESPONSE_CACHE=off, CACHE_TIERS=l1,l2,l3' }, () => startProjectServer(context, 'off'));
    const tierOn = await measure(context, { name: 'tier on', what: 'RESPONSE_CACHE=on, CACHE_TIERS=l1,l2,l3' }, () => startProjectServer(context, 'on'));
    const reference = await measure(context, { name: 'reference', what: 'Apollo 5 + server-plugin-response-cache, L1 only' }, () => startReference(context));
    const plain = await measure(context, { name: 'plain', what: "node:http, the tier's bytes" }, () => startFixedResponse(context, workDir, tierOn.response));
    const measurements = [tierOff, tierOn, reference, plain].map((m) => ({ ...m, dataMatches: isDeepStrictEqual(m.response.data, tierOff.response.data) }));

    const profile = await profileHits(context, workDir);
    await rm(workDir, { recursive: true, force: true });

    return {
      table: [`query: ${QUERY}`, formatTable(measurements), '', formatRatios(measurements), '', formatNotes(measurements), '', formatProfile(profile)].join('\n'),
      report: reportBody(measurements, profile),
      problems: problemsOf(measurements),
    };
  },
};

// Private:

/**
 * Starts one server, fills it with one request, keeps the second response as the checked one, warms
 * it for {@link WARMUP_SECONDS}, loads it for the configured time and connections, stops it.
 */
async function measure(context: BenchContext, server: { name: ServerName; what: string }, start: () => Promise<ServerProcess>): Promise<Omit<Measurement, 'dataMatches'>> {
  const { params } = context;
  log(`starting "${server.name}" (${server.what})`);
  const running = await start();
  try {
    await captureResponse(running.url);
    const response = await captureResponse(running.url);
    const expectedBody = response.body;
    await runLoad(running.url, { seconds: WARMUP_SECONDS, connections: params.connections, expectedBody });

    const countersBefore = server.name === 'reference' ? await readCounters(running.url) : undefined;
    log(`loading "${server.name}" at ${running.url} for ${params.seconds} s with ${params.connections} connections`);
    const cpuBefore = process.cpuUsage();
    const startedAt = performance.now();
    const load = await runLoad(running.url, { seconds: params.seconds, connections: params.connections, expectedBody });
    const cpu = process.cpuUsage(cpuBefore);
    const loadGeneratorCores = (cpu.user + cpu.system) / 1000 / (performance.now() - startedAt);
    const referenceCounters = countersBefore ? difference(await readCounters(running.url), countersBefore) : undefined;
    return { ...server, response, load, loadGeneratorCores, ...(referenceCounters ? { referenceCounters } : {}) };
  } finally {
    await running.stop();
  }
}

/** This project's server, all data tiers on, the response tier as given; each setting has its own cold keyspace. */
async function startProjectServer(context: BenchContext, responseCache: 'on' | 'off', nodeArgs: readonly string[] = []): Promise<ServerProcess> {
  const settings = { cachePrefix: context.keyspace.subPrefix(`response-tier-${responseCache}`), cacheTiers: 'l1,l2,l3', env: { RESPONSE_CACHE: responseCache } };
  const [server] = await startServers(context, 1, settings, { nodeArgs });
  if (!server) throw new Error('no server started');
  return server;
}

async function startReference(context: BenchContext): Promise<ServerProcess> {
  // CACHE_TIERS='' only makes startServers expect what the reference reports: no L2, no L3.
  const settings = { cachePrefix: context.keyspace.subPrefix('response-tier-reference'), cacheTiers: '' };
  const [server] = await startServers(context, 1, settings, { entry: 'bench/apolloReference/main.ts' });
  if (!server) throw new Error('no server started');
  return server;
}

/** Not through startServers: its /health/ready answer is the fixed body, with no tiers to check. */
async function startFixedResponse(context: BenchContext, workDir: string, response: CapturedResponse): Promise<ServerProcess> {
  const file = path.join(workDir, 'fixed-response.json');
  await writeFile(file, response.body);
  if (context.cleanup.closing) throw new Error('aborted');
  const env = { FIXED_RESPONSE_FILE: file, FIXED_RESPONSE_CONTENT_TYPE: response.contentType };
  const server = await startServer(env, { entry: 'bench/fixedResponse/main.ts' });
  context.cleanup.defer(`stop the server at ${server.url}`, server.stop);
  return server;
}

/**
 * The tier-on server again, under `node --cpu-prof`, warmed, then loaded for {@link PROFILE_SECONDS}.
 * The profile is written when the server exits; only the samples taken during the load are counted.
 */
async function profileHits(context: BenchContext, workDir: string): Promise<{ summary: SelfTimeSummary; load: LoadResult }> {
  const { params } = context;
  const profileDir = path.join(workDir, 'cpu-profile');
  log(`profiling "tier on" for ${PROFILE_SECONDS} s with ${params.connections} connections (node --cpu-prof)`);
  const server = await startProjectServer(context, 'on', ['--cpu-prof', '--cpu-prof-dir', profileDir]);
  let load: LoadResult;
  let window: { fromMicros: number; toMicros: number };
  try {
    await captureResponse(server.url);
    const expectedBody = (await captureResponse(server.url)).body;
    await runLoad(server.url, { seconds: WARMUP_SECONDS, connections: params.connections, expectedBody });
    // The profile's timestamps are on the same monotonic clock as hrtime (CLOCK_MONOTONIC).
    const fromMicros = Number(process.hrtime.bigint() / 1000n);
    load = await runLoad(server.url, { seconds: PROFILE_SECONDS, connections: params.connections, expectedBody });
    window = { fromMicros, toMicros: Number(process.hrtime.bigint() / 1000n) };
  } finally {
    await server.stop();
  }
  return { summary: summariseSelfTime(await readCpuProfile(profileDir), REPO_ROOT, window), load };
}

async function readCounters(baseUrl: string): Promise<OperationCounters> {
  const response = await fetch(`${baseUrl}/counters`, { signal: AbortSignal.timeout(5000) });
  if (response.status !== 200) throw new Error(`${baseUrl}/counters answered ${response.status}`);
  return (await response.json()) as OperationCounters;
}

function difference(after: OperationCounters, before: OperationCounters): OperationCounters {
  return {
    requests: after.requests - before.requests,
    cacheHits: after.cacheHits - before.cacheHits,
    executions: after.executions - before.executions,
    statements: after.statements - before.statements,
  };
}

function requestsPerSecond(measurements: readonly Measurement[], name: ServerName): number {
  return measurements.find((m) => m.name === name)?.load.requestsPerSecond ?? 0;
}

function ratioOf(measurements: readonly Measurement[], r: { numerator: ServerName; denominator: ServerName }): number {
  const denominator = requestsPerSecond(measurements, r.denominator);
  return denominator > 0 ? requestsPerSecond(measurements, r.numerator) / denominator : Number.NaN;
}

/** Wrong answers and a reference that did not serve from its cache (its figure would then not be the reference's). */
function problemsOf(measurements: readonly Measurement[]): string[] {
  const problems: string[] = [];
  for (const m of measurements) {
    if (!m.dataMatches) problems.push(`response tier: "${m.name}" answered different data from "tier off"`);
    if (m.load.mismatches > 0) problems.push(`response tier: "${m.name}" answered ${m.load.mismatches} bodies under load that differed from its checked response`);
    if (m.load.errors > 0 || m.load.non2xx > 0) problems.push(`response tier: "${m.name}" had ${m.load.errors} errors and ${m.load.non2xx} non-2xx responses under load`);
  }
  const counters = measurements.find((m) => m.name === 'reference')?.referenceCounters;
  if (counters && counters.executions > 0) {
    problems.push(`response tier: the reference executed ${counters.executions} of ${counters.requests} requests under load instead of serving them from its cache`);
  }
  return problems;
}

function formatTable(measurements: readonly Measurement[]): string {
  const header = ['server', 'what', 'req/s', 'p50 ms', 'p99 ms', 'errors/non-2xx', 'bad bodies', 'data = off', 'loadgen CPU'];
  const rows = measurements.map((m) => [
    m.name,
    m.what,
    m.load.requestsPerSecond.toFixed(0),
    ms(m.load.p50Ms),
    ms(m.load.p99Ms),
    `${m.load.errors}/${m.load.non2xx}`,
    String(m.load.mismatches),
    m.dataMatches ? 'yes' : 'NO',
    `${(m.loadGeneratorCores * 100).toFixed(0)}%`,
  ]);
  return formatColumns(header, rows, 2);
}

function formatRatios(measurements: readonly Measurement[]): string {
  const header = ['req/s ratio', 'value', 'floor', 'aim', 'verdict'];
  const rows = RATIOS.map((r) => {
    const value = ratioOf(measurements, r);
    const floor = FLOORS.find((f) => f.label === r.label);
    if (!floor) return [r.label, times(value), '-', '-', '-'];
    return [r.label, times(value), times(floor.floor), times(floor.aim), verdict(value, floor)];
  });
  return formatColumns(header, rows, 1);
}

function formatNotes(measurements: readonly Measurement[]): string {
  const notes: string[] = [];
  const reference = measurements.find((m) => m.name === 'reference');
  if (reference) {
    const c = reference.referenceCounters;
    const age = reference.response.headers.age;
    notes.push(
      `reference cache: the checked response ${age === undefined ? 'had NO age header (a miss)' : `had age: ${age} (a hit)`}; ` +
        (c ? `under load ${c.cacheHits} of ${c.requests} requests were plugin hits, ${c.executions} executed, ${c.statements} SQL statements` : 'no counters'),
    );
  }
  for (const m of measurements) notes.push(`${m.name}: ${m.response.body.length} bytes, headers ${describeHeaders(m.response.headers)}`);
  return notes.join('\n');
}

/** The headers that say something about caching, connection bookkeeping left out; a long value (a tag list) by its length. */
function describeHeaders(headers: Record<string, string>): string {
  const ignored = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);
  return Object.entries(headers)
    .filter(([name]) => !ignored.has(name))
    .map(([name, value]) => `${name}: ${value.length > 80 ? `(${value.length} characters)` : value}`)
    .join('; ');
}

function formatProfile({ summary, load }: { summary: SelfTimeSummary; load: LoadResult }): string {
  const header = ['function', 'location', 'self ms', 'share'];
  const rows = summary.functions.slice(0, PROFILE_TOP).map((f) => [f.functionName, f.location, ms(f.ms), percent(f.share)]);
  const areas = summary.areas
    .slice(0, 10)
    .map((a) => `${a.area} ${percent(a.share)}`)
    .join(', ');
  const scope = summary.windowed ? `the ${PROFILE_SECONDS} s load` : 'the whole process (no sample fell in the load window)';
  return [
    `profile of "tier on" (node --cpu-prof) over ${scope}: ${load.requestsPerSecond.toFixed(0)} req/s, ${summary.samples} samples, ` +
      `busy ${ms(summary.busyMs)} ms, idle ${ms(summary.idleMs)} ms; self time, share of busy time:`,
    formatColumns(header, rows, 2).replace(/^/gm, '  '),
    `by area: ${areas}`,
    '(.ts lines: the declaration of the function, found by name; tsx compiles to one line. Profiling slows the server.)',
  ].join('\n');
}

function reportBody(measurements: readonly Measurement[], profile: { summary: SelfTimeSummary; load: LoadResult }) {
  return {
    query: QUERY,
    servers: measurements.map((m) => ({
      server: m.name,
      what: m.what,
      ...m.load,
      dataMatchesTierOff: m.dataMatches,
      loadGeneratorCores: m.loadGeneratorCores,
      responseBytes: m.response.body.length,
      contentType: m.response.contentType,
      responseHeaderBytes: Object.entries(m.response.headers).reduce((sum, [name, value]) => sum + name.length + value.length + 4, 0),
      ...(m.referenceCounters ? { cacheCountersUnderLoad: m.referenceCounters, ageHeader: m.response.headers.age ?? null } : {}),
    })),
    ratios: Object.fromEntries(RATIOS.map((r) => [r.label, finiteOrNull(ratioOf(measurements, r))])),
    floors: FLOORS.map((f) => {
      const value = ratioOf(measurements, f);
      return { ratio: f.label, value: finiteOrNull(value), floor: f.floor, aim: f.aim, verdict: verdict(value, f) };
    }),
    profile: {
      server: 'tier on',
      seconds: PROFILE_SECONDS,
      requestsPerSecond: profile.load.requestsPerSecond,
      samples: profile.summary.samples,
      windowed: profile.summary.windowed,
      busyMs: profile.summary.busyMs,
      idleMs: profile.summary.idleMs,
      top: profile.summary.functions.slice(0, PROFILE_TOP),
      areas: profile.summary.areas,
    },
  };
}

/** FAIL below the floor; at or above it, whether the aim is met too. */
function verdict(value: number, floor: Floor): 'PASS' | 'FAIL' | 'PASS (aim met)' {
  if (!(value >= floor.floor)) return 'FAIL';
  return value >= floor.aim ? 'PASS (aim met)' : 'PASS';
}

function times(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(2)}x` : 'n/a';
}

function percent(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
