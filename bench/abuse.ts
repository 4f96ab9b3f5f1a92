// The operation limits (src/limits/, GRAPHQL_LIMITS) against one hostile client, and what they cost
// everyone else.
//
// 1. Under attack: one server at a time, the response tier on, first with the limits and then
//    without (GRAPHQL_LIMITS=off), each a fresh process. The victims are the bench's connections
//    sending the read-path query, warm, so that every answer is a response-tier hit: first alone (the
//    baseline), then beside one hostile client (hostileClient/, its own process) sending back to back
//    the most expensive query the limits accept, or, without them, the issue's depth-15 attack.
// 2. The cost of the checks, limits on against off, on two servers side by side measured in turns
//    (ABBA ABBA, so that drift cancels): on a warm hit, which is answered before anything is parsed,
//    and on a miss with the entity tiers warm, where the cost check runs on every request (parsing
//    and validation run once per query text: Apollo keeps the validated document).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parse } from 'graphql';
import { loadConfig, type OperationLimits } from '../src/config/config.ts';
import { OperationCost } from '../src/limits/operationCost.ts';
import { buildSchema } from '../src/schema/schema.ts';
import type { LogLine } from '../test/support/logLines.ts';
import { captureResponse, QUERY } from './graphqlRequest.ts';
import type { HostileClientOptions, HostileClientResult } from './hostileClient/main.ts';
import { runLoad, type LoadResult } from './load.ts';
import type { BenchParams } from './params.ts';
import { formatColumns, ms } from './report.ts';
import { log, startServers, stopAll, type BenchContext, type Section } from './section.ts';
import { warnings } from './serverLogs.ts';
import type { ServerProcess, StartOptions } from './serverProcess.ts';
import { distribution } from './stats.ts';

const PRODUCT_FIELDS = 'id sku name description priceCents stock viewCount updatedAt';

/**
 * The most expensive query the default limits accept, found against this schema's cost model
 * (src/limits/operationCost.ts: every field 1, a long text 10, lists multiply): cost 5,000 of
 * 5,000, per product 1 + 7 scalars + a description (10) + 4 aliased scalars + category (1 + 3 +
 * 1 x (product 1 + 7)) + 1 x (review 1 + 2 + body 10 + author 3); depth 4 of 6; 4 aliases of 15.
 * Every list is as long as its `first`, so all of its fields are completed. `after` differs from
 * one request to the next, so it is never a hit.
 */
const WORST_ACCEPTED = [
  'query WorstAccepted($after: ID) { products(first: 100, after: $after) {',
  `${PRODUCT_FIELDS} a1: name a2: sku a3: updatedAt a4: stock`,
  'category { id name slug products(first: 1) { id sku name priceCents stock viewCount updatedAt } }',
  'reviews(first: 1) { id rating body author { id name } } } }',
].join(' ');

/**
 * The issue's attack: depth 15, product -> reviews -> product -> ... seven `reviews(first: 100)`
 * deep, which make one product's 5 reviews 5^7 = 78,125 (its cost by the model: about 10^14).
 */
const DEPTH_15_ATTACK = `query Depth15($id: ID!) { product(id: $id) { ${'reviews(first: 100) { product { '.repeat(6)}reviews(first: 100) { id }${' } }'.repeat(6)} } }`;

interface Attack {
  label: string;
  query: string;
  /** The variable that makes every request different (see HostileClientOptions.cursor). */
  cursor(products: number): HostileClientOptions['cursor'];
}

/** What the hostile client sends: the worst it can get through the limits, or, without them, the issue's attack. */
const ATTACKS: Record<Limits, Attack> = {
  on: { label: 'worst accepted query', query: WORST_ACCEPTED, cursor: (products) => ({ name: 'after', from: 1, to: Math.max(1, products - 100) }) },
  off: { label: 'depth-15 attack', query: DEPTH_15_ATTACK, cursor: (products) => ({ name: 'id', from: 1, to: products }) },
};

type Limits = 'on' | 'off';

/** The issue's target: other clients' cache-hit p99 under the attack, limits on. */
const VICTIM_P99_TARGET_MS = 50;
/** The issue's target: the limits cost a warm hit less than this share of its req/s. */
const HIT_COST_TARGET = 0.05;
/** A short load before each measured one, so that every server is measured with its hot path compiled. */
const WARMUP_SECONDS = 1;
/** The hostile client abandons a request after this (the server may still be working on it). */
const ATTACK_TIMEOUT_MS = 10_000;
/**
 * One round of the cost measurement. Short rounds, many of them: a burst of another process's work
 * then spoils one pair of rounds, which the median of the pairs leaves out.
 */
const ROUND_SECONDS = 2;
const REPO_ROOT = path.resolve(import.meta.dirname, '..');

export const abuseSection: Section = {
  name: 'abuse',
  title: "Operation limits: other clients' cache hits beside a hostile client, and what the limits cost",
  report: 'read-path',
  budgetMs: (params) => 4 * 60_000 + (2 * (WARMUP_SECONDS + 2 * params.seconds) + 2 * (2 * WARMUP_SECONDS + turns(params).length * ROUND_SECONDS)) * 1000,
  async run(context) {
    const queries = describeQueries(context.params);
    const underAttack = [await measureUnderAttack(context, 'on'), await measureUnderAttack(context, 'off')];
    const costs = [await measureCost(context, COST_PATHS[0]), await measureCost(context, COST_PATHS[1])];
    return {
      table: [formatUnderAttack(underAttack, queries, context.params), '', formatCosts(costs, queries, context.params)].join('\n'),
      report: reportBody(underAttack, costs, queries, context.params),
      problems: [...underAttack.flatMap(problemsUnderAttack), ...costs.flatMap(problemsOfCost)],
    };
  },
};

// Private: 1. under attack.

/** The other clients' figures over one load: latencies from every response, in ms. */
interface VictimFigures {
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}

interface UnderAttack {
  limits: Limits;
  attack: Attack;
  /** The x-response-cache header of a victim's request before the baseline and after the attack. */
  victimCache: { before: string; after: string };
  baseline: VictimFigures;
  attacked: VictimFigures;
  attacker: HostileClientResult;
  /** Limits on: the worst accepted query sent once, at both ends of its cursor, before the attack. */
  acceptance?: Probe[];
  /** Limits on: the limits-off attack sent once; it must be refused with a 400. */
  refusal?: Probe;
  /**
   * The server's warnings and errors (see serverLogs.warnings) before the hostile client started,
   * and from then on (the server may still be running the client's last request after it ended).
   */
  serverWarnings: { beforeAttack: string[]; fromAttackOn: string[] };
}

/** One request and what came back. */
interface Probe {
  variables: Record<string, string>;
  status: number;
  bytes: number;
  /** The first error's code and message, when the answer has errors. */
  error?: { code: string; message: string };
}

/** Starts a server with the limits on or off, measures the victims alone and then beside the hostile client. */
async function measureUnderAttack(context: BenchContext, limits: Limits): Promise<UnderAttack> {
  const { params } = context;
  const attack = ATTACKS[limits];
  log(`abuse: starting a server with GRAPHQL_LIMITS=${limits}, RESPONSE_CACHE=on`);
  // Its logs are kept, not printed: a warning it logs under attack (a tier it gave up on) is a figure.
  const server = await startProjectServer(context, { limits, responseCache: 'on', prefix: `abuse-attack-${limits}` }, { captureLogs: true });
  let attackStartedAt = Number.POSITIVE_INFINITY;
  let measured: Omit<UnderAttack, 'serverWarnings'>;
  try {
    const { expectedBody, cacheHeader: before } = await warmVictims(server, params);
    const probes = limits === 'on' ? await probeLimits(server, params) : {};

    log(`abuse: victims alone, ${params.connections} connections for ${params.seconds} s (limits ${limits})`);
    const baseline = await loadVictims(server, params.seconds, params, expectedBody);

    log(`abuse: victims beside the hostile client's ${attack.label} for ${params.seconds} s (limits ${limits})`);
    const options: HostileClientOptions = { url: `${server.url}/graphql`, query: attack.query, cursor: attack.cursor(params.products), seconds: params.seconds, timeoutMs: ATTACK_TIMEOUT_MS };
    attackStartedAt = Date.now();
    const { attacker, victims: attacked } = await alongsideHostileClient(context, options, () => loadVictims(server, params.seconds, params, expectedBody));
    const after = (await captureResponse(server.url)).headers['x-response-cache'] ?? '(none)';
    measured = { limits, attack, victimCache: { before, after }, baseline, attacked, attacker, ...probes };
  } finally {
    await server.stop();
  }
  const before = (line: LogLine) => line.time < attackStartedAt;
  return { ...measured, serverWarnings: { beforeAttack: warnings(server.logs.filter(before)), fromAttackOn: warnings(server.logs.filter((line) => !before(line))) } };
}

/** The worst accepted query must be answered in full (else it is not the worst accepted), and the attack refused with a 400. */
async function probeLimits(server: ServerProcess, params: BenchParams): Promise<{ acceptance: Probe[]; refusal: Probe }> {
  const cursor = ATTACKS.on.cursor(params.products);
  const acceptance = [await probe(server, WORST_ACCEPTED, { after: String(cursor.from) }), await probe(server, WORST_ACCEPTED, { after: String(cursor.to) })];
  const refusal = await probe(server, DEPTH_15_ATTACK, { id: '1' });
  return { acceptance, refusal };
}

async function probe(server: ServerProcess, query: string, variables: Record<string, string>): Promise<Probe> {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  const first = (JSON.parse(text) as { errors?: { message?: string; extensions?: { code?: string } }[] }).errors?.[0];
  const error = first ? { code: first.extensions?.code ?? '(no code)', message: first.message ?? '' } : undefined;
  return { variables, status: response.status, bytes: Buffer.byteLength(text), ...(error ? { error } : {}) };
}

/**
 * Runs the hostile client in its own process and, once it is about to send, `victims` beside it;
 * both last the same fixed time. The client is killed if anything goes wrong.
 */
async function alongsideHostileClient<T>(context: BenchContext, options: HostileClientOptions, victims: () => Promise<T>): Promise<{ attacker: HostileClientResult; victims: T }> {
  if (context.cleanup.closing) throw new Error('aborted');
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/hostileClient/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, HOSTILE_CLIENT_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const kill = () => child.kill('SIGKILL');
  // Whichever way the bench ends, the client does not outlive it.
  process.on('exit', kill);
  context.cleanup.defer('stop the hostile client', async () => void kill());
  // Awaited only on the way that reads the result; never an unhandled rejection on the others.
  const closed = once(child, 'close').catch(() => undefined);
  try {
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const ready = await lines.next();
    if (ready.done || ready.value !== 'ready') throw new Error(`the hostile client did not start: ${String(ready.value)}`);
    const victimsDone = victims();
    const [last, victimResult] = await Promise.all([lines.next(), victimsDone]);
    if (last.done) throw new Error('the hostile client ended without a result');
    await closed;
    return { attacker: JSON.parse(last.value) as HostileClientResult, victims: victimResult };
  } finally {
    kill();
    process.off('exit', kill);
  }
}

// Private: 2. the cost of the checks.

interface CostPath {
  name: 'warm hit' | 'miss';
  what: string;
  responseCache: 'on' | 'off';
}

const COST_PATHS: readonly [CostPath, CostPath] = [
  { name: 'warm hit', what: 'RESPONSE_CACHE=on, a response-tier hit', responseCache: 'on' },
  { name: 'miss', what: 'RESPONSE_CACHE=off, entity tiers warm', responseCache: 'off' },
];

interface CostFigures {
  path: CostPath;
  /** The x-response-cache header of a request to each server, before the rounds. */
  cacheHeader: Record<Limits, string>;
  /** The rounds of each server taken together. */
  totals: Record<Limits, VictimFigures>;
  /** req/s of each round, in the order of {@link turns}. */
  rounds: { limits: Limits; requestsPerSecond: number }[];
  /** The machine's 1-minute load average before and after the rounds: above its CPU count, other work shared it. */
  loadAverage: { before: number; after: number };
}

/** Two servers side by side, limits on and off, loaded in turns with the same query, connections and time. */
async function measureCost(context: BenchContext, costPath: CostPath): Promise<CostFigures> {
  const { params } = context;
  log(`abuse: cost of the limits on a ${costPath.name}: two servers (RESPONSE_CACHE=${costPath.responseCache}), GRAPHQL_LIMITS on and off`);
  const started = await Promise.allSettled(
    (['on', 'off'] as const).map((limits) => startProjectServer(context, { limits, responseCache: costPath.responseCache, prefix: `abuse-cost-${costPath.responseCache}-${limits}` })),
  );
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  try {
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [on, off] = servers as [ServerProcess, ServerProcess];
    const warmOn = await warmVictims(on, params);
    const warmOff = await warmVictims(off, params);
    const server = { on, off };
    const expectedBody = { on: warmOn.expectedBody, off: warmOff.expectedBody };
    const latencies: Record<Limits, number[]> = { on: [], off: [] };
    const loads: Record<Limits, LoadResult[]> = { on: [], off: [] };
    const rounds: CostFigures['rounds'] = [];
    const seconds = ROUND_SECONDS;
    const order = turns(params);
    log(`abuse: ${order.length} rounds of ${seconds} s with ${params.connections} connections, in the order ${turnLetters(order)} (A: limits on)`);
    const loadAverage = { before: os.loadavg()[0] ?? Number.NaN, after: Number.NaN };
    for (const limits of order) {
      const load = await runLoad(server[limits].url, { seconds, connections: params.connections, expectedBody: expectedBody[limits], onResponse: (latency) => latencies[limits].push(latency) });
      loads[limits].push(load);
      rounds.push({ limits, requestsPerSecond: load.requestsPerSecond });
    }
    const total = (limits: Limits) => combine(loads[limits], latencies[limits], seconds);
    loadAverage.after = os.loadavg()[0] ?? Number.NaN;
    return { path: costPath, cacheHeader: { on: warmOn.cacheHeader, off: warmOff.cacheHeader }, totals: { on: total('on'), off: total('off') }, rounds, loadAverage };
  } finally {
    await stopAll(servers);
  }
}

/**
 * The order of the cost rounds, `on` and `off` alternating in pairs (AB BA AB ...), each pair giving
 * one ratio: as many pairs as BENCH_SECONDS (at least 2), so each server is loaded for
 * 2 x BENCH_SECONDS in all.
 */
function turns(params: BenchParams): Limits[] {
  const pairs = Math.max(2, params.seconds);
  return Array.from({ length: pairs }, (_, i): Limits[] => (i % 2 === 0 ? ['on', 'off'] : ['off', 'on'])).flat();
}

function turnLetters(order: readonly Limits[]): string {
  return order.map((t) => (t === 'on' ? 'A' : 'B')).join('');
}

// Private: servers and loads.

async function startProjectServer(context: BenchContext, settings: { limits: Limits; responseCache: 'on' | 'off'; prefix: string }, options: StartOptions = {}): Promise<ServerProcess> {
  const env = { GRAPHQL_LIMITS: settings.limits, RESPONSE_CACHE: settings.responseCache };
  const [server] = await startServers(context, 1, { cachePrefix: context.keyspace.subPrefix(settings.prefix), cacheTiers: 'l1,l2,l3', env }, options);
  if (!server) throw new Error('no server started');
  return server;
}

/** Fills whatever the server caches for the victims' query, keeps the second answer as the expected one, and warms the hot path. */
async function warmVictims(server: ServerProcess, params: BenchParams): Promise<{ expectedBody: string; cacheHeader: string }> {
  await captureResponse(server.url);
  const sample = await captureResponse(server.url);
  await runLoad(server.url, { seconds: WARMUP_SECONDS, connections: params.connections, expectedBody: sample.body });
  return { expectedBody: sample.body, cacheHeader: sample.headers['x-response-cache'] ?? '(none)' };
}

async function loadVictims(server: ServerProcess, seconds: number, params: BenchParams, expectedBody: string): Promise<VictimFigures> {
  const latencies: number[] = [];
  const load = await runLoad(server.url, { seconds, connections: params.connections, expectedBody, onResponse: (latency) => latencies.push(latency) });
  return combine([load], latencies, seconds);
}

/** Loads of `seconds` each taken together; percentiles from every response's latency (autocannon's own are whole ms). */
function combine(loads: readonly LoadResult[], latenciesMs: readonly number[], seconds: number): VictimFigures {
  const sum = (pick: (load: LoadResult) => number) => loads.reduce((total, load) => total + pick(load), 0);
  const { p50, p99, max } = distribution(latenciesMs);
  const requests = sum((l) => l.requests);
  return {
    seconds: loads.length * seconds,
    requests,
    requestsPerSecond: sum((l) => l.requestsPerSecond) / Math.max(1, loads.length),
    p50Ms: p50,
    p99Ms: p99,
    maxMs: max,
    errors: sum((l) => l.errors),
    timeouts: sum((l) => l.timeouts),
    non2xx: sum((l) => l.non2xx),
    mismatches: sum((l) => l.mismatches),
  };
}

// Private: what the queries are, by the server's own models.

interface QueryDescription {
  label: string;
  query: string;
  /** By src/limits/operationCost.ts, for the first value of the cursor. */
  cost: number | undefined;
  /**
   * How long that cost check takes, in µs a call, here in the bench process with the document parsed
   * once (Apollo keeps it): the one check a repeated query pays on every request.
   */
  costCheckMicros: number;
}

interface Queries {
  /** The limits a server starts with by default. */
  limits: OperationLimits;
  maxResponseBytes: number;
  victims: QueryDescription;
  attacks: Record<Limits, QueryDescription>;
}

/** How long the cost check of each query is timed for. */
const COST_CHECK_TIMING_MS = 300;

function describeQueries(params: BenchParams): Queries {
  const config = loadConfig({});
  const cost = new OperationCost(buildSchema());
  const describe = (label: string, query: string, variables: Record<string, string>): QueryDescription => {
    const document = parse(query);
    const check = () => cost.of(document, undefined, variables);
    return { label, query, cost: check(), costCheckMicros: microsPerCall(check) };
  };
  const attack = (a: Attack) => {
    const cursor = a.cursor(params.products);
    return describe(a.label, a.query, { [cursor.name]: String(cursor.from) });
  };
  return {
    limits: config.limits,
    maxResponseBytes: config.http.maxResponseBytes,
    victims: describe("the victims' read-path query", QUERY, {}),
    attacks: { on: attack(ATTACKS.on), off: attack(ATTACKS.off) },
  };
}

/** µs per call of `work`, called for {@link COST_CHECK_TIMING_MS} after as many calls to warm it up. */
function microsPerCall(work: () => unknown): number {
  const callsIn = (ms: number) => {
    const startedAt = performance.now();
    let calls = 0;
    while (performance.now() - startedAt < ms) {
      work();
      calls += 1;
    }
    return { calls, elapsedMs: performance.now() - startedAt };
  };
  callsIn(COST_CHECK_TIMING_MS / 3);
  const { calls, elapsedMs } = callsIn(COST_CHECK_TIMING_MS);
  return (elapsedMs * 1000) / calls;
}

// Private: problems, tables and the report.

/** Wrong answers and errors; slow figures are not problems (the verdicts say what they mean). */
function problemsUnderAttack(run: UnderAttack): string[] {
  const problems: string[] = [];
  const where = `abuse (limits ${run.limits})`;
  for (const [phase, figures] of [
    ['alone', run.baseline],
    ['under attack', run.attacked],
  ] as const) {
    if (figures.mismatches > 0 || figures.non2xx > 0) problems.push(`${where}: victims ${phase}: ${figures.non2xx} non-2xx and ${figures.mismatches} bad bodies`);
  }
  if (run.victimCache.before !== 'HIT' || run.victimCache.after !== 'HIT') {
    problems.push(`${where}: the victims' query was not a response-tier hit (x-response-cache ${run.victimCache.before} before, ${run.victimCache.after} after)`);
  }
  for (const p of run.acceptance ?? []) {
    if (p.status !== 200 || p.error) problems.push(`${where}: the worst accepted query (${JSON.stringify(p.variables)}) answered ${p.status} ${p.error?.code ?? ''}: it is not accepted`);
  }
  if (run.refusal && run.refusal.status !== 400) {
    problems.push(`${where}: the depth-15 attack was answered ${run.refusal.status} ${run.refusal.error?.code ?? ''} (${run.refusal.error?.message ?? ''}), not refused with a 400`);
  }
  const expected = run.limits === 'on' ? /^(200 data|cut at end)$/ : /^(200 data|400 RESPONSE_TOO_LARGE|timeout|cut at end)$/;
  for (const [outcome, count] of Object.entries(run.attacker.outcomes)) {
    if (!expected.test(outcome)) problems.push(`${where}: ${count} of the hostile client's requests ended "${outcome}"`);
  }
  return problems;
}

function problemsOfCost(figures: CostFigures): string[] {
  const problems: string[] = [];
  for (const limits of ['on', 'off'] as const) {
    const t = figures.totals[limits];
    if (t.mismatches > 0 || t.non2xx > 0 || t.errors > 0) problems.push(`abuse cost (${figures.path.name}, limits ${limits}): ${t.errors} errors, ${t.non2xx} non-2xx, ${t.mismatches} bad bodies`);
    const hit = figures.cacheHeader[limits] === 'HIT';
    if (hit !== (figures.path.responseCache === 'on')) problems.push(`abuse cost (${figures.path.name}, limits ${limits}): x-response-cache ${figures.cacheHeader[limits]}`);
  }
  return problems;
}

function victimP99Verdict(runs: readonly UnderAttack[]): { p99Ms: number; verdict: 'PASS' | 'FAIL' } {
  const p99Ms = runs.find((r) => r.limits === 'on')?.attacked.p99Ms ?? Number.NaN;
  return { p99Ms, verdict: p99Ms < VICTIM_P99_TARGET_MS ? 'PASS' : 'FAIL' };
}

function formatUnderAttack(runs: readonly UnderAttack[], queries: Queries, params: BenchParams): string {
  const { limits } = queries;
  const header = ['server', 'beside', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors/timeouts/non-2xx', 'bad bodies'];
  const row = (run: UnderAttack, beside: string, v: VictimFigures) => [
    `limits ${run.limits}`,
    beside,
    v.requestsPerSecond.toFixed(0),
    ms(v.p50Ms),
    ms(v.p99Ms),
    ms(v.maxMs),
    `${v.errors}/${v.timeouts}/${v.non2xx}`,
    String(v.mismatches),
  ];
  const victims = formatColumns(
    header,
    runs.flatMap((run) => [row(run, 'nobody (baseline)', run.baseline), row(run, `the ${run.attack.label}`, run.attacked)]),
    2,
  );

  const attackerHeader = ['server', 'query', 'cost', 'answered', 'p50 ms', 'max ms', 'MB received', 'outcomes'];
  const attackerRows = runs.map((run) => {
    const latency = distribution(run.attacker.latenciesMs);
    const cost = queries.attacks[run.limits].cost;
    return [
      `limits ${run.limits}`,
      run.attack.label,
      formatCost(cost),
      String(run.attacker.answered),
      ms(latency.p50),
      ms(latency.max),
      (run.attacker.bytes / 1e6).toFixed(1),
      Object.entries(run.attacker.outcomes)
        .map(([outcome, count]) => `${outcome} x${count}`)
        .join(', '),
    ];
  });
  const attackers = formatColumns(attackerHeader, attackerRows, 2);

  const { p99Ms, verdict } = victimP99Verdict(runs);
  const on = runs.find((r) => r.limits === 'on');
  const notes = [
    `target: with the limits on, other clients' cache-hit p99 beside the attack under ${VICTIM_P99_TARGET_MS} ms: ${ms(p99Ms)} ms, ${verdict}`,
    ...(on?.acceptance ?? []).map((p) => `worst accepted query, ${JSON.stringify(p.variables)}: ${p.status}${p.error ? ` ${p.error.code}` : ' with data'}, ${p.bytes} bytes of ${queries.maxResponseBytes}`),
    ...(on?.refusal
      ? [`depth-15 attack sent to the limits-on server: ${on.refusal.status} ${on.refusal.error?.code ?? ''} "${on.refusal.error?.message ?? ''}"${on.refusal.status === 400 ? '' : ' (expected a 400)'}`]
      : []),
    `victims' cache header: ${runs.map((r) => `limits ${r.limits} ${r.victimCache.before} before, ${r.victimCache.after} after`).join('; ')}`,
    ...runs.map((r) => `server warnings, limits ${r.limits}: before the attack ${listOrNone(r.serverWarnings.beforeAttack)}; from the attack on ${listOrNone(r.serverWarnings.fromAttackOn)}`),
  ];
  return [
    `limits on: depth ${limits.maxDepth}, aliases ${limits.maxAliases}, directives ${limits.maxDirectives}, tokens ${limits.maxTokens}, cost ${limits.maxCost}, mutation fields ${limits.maxMutationFields}; MAX_RESPONSE_BYTES ${queries.maxResponseBytes}`,
    `victims: ${params.connections} connections, ${params.seconds} s each, the read-path query as a warm response-tier hit`,
    victims,
    '',
    `the hostile client: 1 connection, back to back, ${ATTACK_TIMEOUT_MS / 1000} s timeout per request, cursor varied so it is never a hit`,
    attackers,
    '',
    notes.join('\n'),
    `worst accepted query: ${WORST_ACCEPTED}`,
    `depth-15 attack: ${DEPTH_15_ATTACK}`,
  ].join('\n');
}

function formatCosts(costs: readonly CostFigures[], queries: Queries, params: BenchParams): string {
  const header = ['path', 'what', 'limits', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'errors/non-2xx', 'bad bodies'];
  const rows = costs.flatMap((c) =>
    (['on', 'off'] as const).map((limits) => {
      const t = c.totals[limits];
      return [c.path.name, c.path.what, limits, t.requestsPerSecond.toFixed(0), ms(t.p50Ms), ms(t.p99Ms), ms(t.maxMs), `${t.errors}/${t.non2xx}`, String(t.mismatches)];
    }),
  );
  const ratioHeader = ['path', 'req/s on/off', 'pairs', 'cost', 'p50 on/off', 'p99 on/off', `target cost < ${HIT_COST_TARGET * 100}%`];
  const ratioRows = costs.map((c) => {
    const r = costRatios(c);
    return [c.path.name, times(r.throughput), `${times(r.lowest)}..${times(r.highest)}`, percent(r.cost), times(r.p50), times(r.p99), c.path.name === 'warm hit' ? costVerdict(r.cost) : '- (no target)'];
  });
  const rounds = costs.map((c) => `${c.path.name} rounds (req/s): ${c.rounds.map((r) => `${r.limits === 'on' ? 'A' : 'B'} ${r.requestsPerSecond.toFixed(0)}`).join(', ')}`);
  return [
    `cost of the limits: ${turns(params).length / 2} rounds of ${ROUND_SECONDS} s per server, ${params.connections} connections, the read-path query, turns ${turnLetters(turns(params))} (A: limits on, B: GRAPHQL_LIMITS=off)`,
    formatColumns(header, rows, 3),
    '',
    formatColumns(ratioHeader, ratioRows, 1),
    'a warm hit is answered before anything reaches Apollo (src/http/graphqlHandler.ts): no limit runs on either server, so its ratio shows the noise of the measurement;',
    'a miss runs the cost check on every request (parse and validation once per query text, Apollo keeps the document).',
    `the cost check alone, timed in the bench process: ${[queries.victims, queries.attacks.on].map((q) => `${q.label} ${q.costCheckMicros.toFixed(1)} µs`).join(', ')} a call` + `${missShare(costs, queries)}`,
    '(req/s on/off: median of the ratios within each pair of adjacent rounds, pairs: the lowest and highest of them; cost: 1 - req/s on/off, negative when the limits-on server was the faster)',
    ...rounds,
    `1-minute load average, ${os.cpus().length} CPUs: ${costs.map((c) => `${c.path.name} ${c.loadAverage.before.toFixed(1)} before, ${c.loadAverage.after.toFixed(1)} after`).join('; ')}`,
  ].join('\n');
}

/**
 * req/s on/off as the median of the ratios within each pair of adjacent rounds: a drift of the
 * machine between pairs cancels within each pair, and a burst of other work that spoils a few pairs
 * is left out. The pairs' lowest and highest ratios show how much noise there was. Latency ratios
 * from every response of each server.
 */
function costRatios(c: CostFigures): { throughput: number; lowest: number; highest: number; cost: number; p50: number; p99: number } {
  const pairs: number[] = [];
  for (let i = 0; i + 1 < c.rounds.length; i += 2) {
    const pair = [c.rounds[i], c.rounds[i + 1]];
    const on = pair.find((r) => r?.limits === 'on');
    const off = pair.find((r) => r?.limits === 'off');
    if (on && off) pairs.push(on.requestsPerSecond / off.requestsPerSecond);
  }
  const throughput = median(pairs);
  const { on, off } = c.totals;
  return { throughput, lowest: Math.min(...pairs), highest: Math.max(...pairs), cost: 1 - throughput, p50: on.p50Ms / off.p50Ms, p99: on.p99Ms / off.p99Ms };
}

/** The victims' check against the time a limits-off miss took, at most, at the req/s it reached (all of one core). */
function missShare(costs: readonly CostFigures[], queries: Queries): string {
  const miss = costs.find((c) => c.path.name === 'miss');
  if (!miss || !(miss.totals.off.requestsPerSecond > 0)) return '';
  const missMicros = 1e6 / miss.totals.off.requestsPerSecond;
  return `; a limits-off miss had at most ${missMicros.toFixed(0)} µs of the server (1 s / its req/s), so the check is ${percent(queries.victims.costCheckMicros / missMicros)} of it`;
}

function costVerdict(cost: number): 'PASS' | 'FAIL' {
  return cost < HIT_COST_TARGET ? 'PASS' : 'FAIL';
}

function reportBody(runs: readonly UnderAttack[], costs: readonly CostFigures[], queries: Queries, params: BenchParams) {
  const victimTarget = victimP99Verdict(runs);
  return {
    limits: queries.limits,
    maxResponseBytes: queries.maxResponseBytes,
    victims: { query: QUERY, connections: params.connections, seconds: params.seconds },
    victimsQueryCost: { cost: queries.victims.cost, costCheckMicros: queries.victims.costCheckMicros },
    attacks: queries.attacks,
    underAttack: runs.map((run) => ({
      limits: run.limits,
      attack: run.attack.label,
      victimCache: run.victimCache,
      baseline: run.baseline,
      attacked: run.attacked,
      attacker: { answered: run.attacker.answered, outcomes: run.attacker.outcomes, bytes: run.attacker.bytes, latencyMs: distribution(run.attacker.latenciesMs), timeoutMs: ATTACK_TIMEOUT_MS },
      ...(run.acceptance ? { acceptance: run.acceptance } : {}),
      ...(run.refusal ? { refusal: run.refusal } : {}),
      serverWarnings: run.serverWarnings,
    })),
    victimP99Target: { limitMs: VICTIM_P99_TARGET_MS, p99Ms: finiteOrNull(victimTarget.p99Ms), verdict: victimTarget.verdict },
    cost: {
      roundSeconds: ROUND_SECONDS,
      turns: turns(params),
      paths: costs.map((c) => {
        const r = costRatios(c);
        return {
          path: c.path.name,
          what: c.path.what,
          cacheHeader: c.cacheHeader,
          on: c.totals.on,
          off: c.totals.off,
          rounds: c.rounds,
          loadAverage: c.loadAverage,
          ratios: {
            throughput: finiteOrNull(r.throughput),
            lowestPair: finiteOrNull(r.lowest),
            highestPair: finiteOrNull(r.highest),
            cost: finiteOrNull(r.cost),
            p50: finiteOrNull(r.p50),
            p99: finiteOrNull(r.p99),
          },
          ...(c.path.name === 'warm hit' ? { target: { maxCost: HIT_COST_TARGET, verdict: costVerdict(r.cost) } } : {}),
        };
      }),
    },
  };
}

/** Whole below a million, else as a power of ten: the attack's cost has 15 digits. */
function formatCost(cost: number | undefined): string {
  if (cost === undefined) return '-';
  return cost < 1e6 ? String(cost) : cost.toExponential(1);
}

function listOrNone(items: readonly string[]): string {
  return items.length === 0 ? 'none' : items.join(', ');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function times(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(3)}x` : 'n/a';
}

function percent(share: number): string {
  return Number.isFinite(share) ? `${(share * 100).toFixed(1)}%` : 'n/a';
}

function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}
