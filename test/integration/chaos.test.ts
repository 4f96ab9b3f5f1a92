import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { answerOf, CatalogModel, observationsOf, pickRead, read, READS, readFailure, requestKey, truthOf, writeOnce, type Instance, type ReadRecord, type ReadRequest } from '../support/catalogWorkload.ts';
import { FaultProxy } from '../support/faultProxy.ts';
import { FaultSchedule, type PhaseRecord } from '../support/faultSchedule.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { inFlight } from '../support/inFlight.ts';
import { seededRandom, type SeededRandom } from '../support/seededRandom.ts';
import { startTestApp, uniquePrefix } from '../support/testApp.ts';
import { ThrowawayRedis } from '../support/throwawayRedis.ts';
import { judge, type Version } from '../support/writeHistory.ts';

const COMMAND_TIMEOUT_MS = 250;
/**
 * How long after a write was answered the other instance may still show the older value: the bus
 * deadline (2 s: an instance that cannot prove it hears every invalidation stops using L2 by then),
 * one command timeout (an L3 call that hangs is given up), and a margin for the deadline's timer on
 * a loaded machine. The writer's own instance gets no such allowance: it must read its own writes.
 */
const STALE_BOUND_MS = 3000;
/** After both instances trust their L2 again: background work still in flight (the invalidator retries a failed L3 invalidation every second, responses are stored after they are sent). */
const SETTLE_MS = 2000;
const TRUSTED_DEADLINE_MS = 20_000;

/**
 * Chaos over two instances (all tiers, the response tier on) sharing PostgreSQL and one Redis
 * reached through a fault proxy. Writers and readers run on both while a schedule applies each fault
 * once (delay, hang, drop, reset, a restart that loses every key, eviction under a flood), with a
 * pass period after each. Every request is timed and recorded; afterwards:
 * - no request failed: every answer is 200 without errors, except domain errors the test's own
 *   history explains (a NOT_FOUND for a product whose deletion was sent before the answer came);
 * - a read that started after a write was answered and shows an older value is stale (see
 *   WriteHistory). On the writer's instance there are none; on the other, none older than
 *   STALE_BOUND_MS. Both are counted per fault phase;
 * - at quiescence, every product, list and response each instance serves, twice (the second from
 *   the response tier), equals the database.
 *
 * `CHAOS_SEED` sets the first run's seed (else 1, printed), `CHAOS_RUNS` the number of
 * runs (seeds CHAOS_SEED, CHAOS_SEED + 1, ...). The seed fixes every choice (the fault order and
 * periods, each worker's operations); the interleaving is the machine's, so a replay is close, not
 * identical.
 */
describe('chaos over two instances sharing a Redis behind a fault proxy', () => {
  const reports: RunReport[] = [];
  afterAll(() => {
    if (reports.length > 0) console.info(summaryTable(reports));
  });

  it.each(chaosRuns(process.env))(
    'run $run (seed $seed): no request fails, staleness stays bounded, 0 stale at quiescence',
    async ({ run, seed }) => {
      const report = await chaosRun(run, seed);
      reports.push(report);
      console.info(report.text);
      expect.soft(report.failures, 'requests that failed').toEqual([]);
      expect.soft(report.phantoms, 'reads of values never written').toEqual([]);
      expect.soft(report.ownStale, 'stale reads on the writer instance (read-your-writes)').toEqual([]);
      expect.soft(report.boundViolations, `stale reads on the other instance older than ${STALE_BOUND_MS} ms`).toEqual([]);
      expect.soft(report.trustedAfterMs, 'both instances trust their L2 again at quiescence').not.toBeNaN();
      expect.soft(report.quiescenceStale, 'answers at quiescence that differ from the database').toEqual([]);
      // Enough work for the faults to meet it; a loaded machine manages less, so no more than this.
      expect(report.counts.writes).toBeGreaterThanOrEqual(10);
      expect(report.counts.quiescenceChecked).toBeGreaterThan(0);
    },
    180_000,
  );
});

interface RunReport {
  readonly run: number;
  readonly seed: number;
  readonly counts: {
    readonly writes: number;
    readonly domainErrors: number;
    readonly reads: number;
    readonly hits: number;
    readonly staleOwn: number;
    readonly staleOther: number;
    readonly maxStaleAgeMs: number;
    readonly quiescenceChecked: number;
    readonly wallMs: number;
  };
  readonly failures: string[];
  readonly phantoms: string[];
  readonly ownStale: string[];
  readonly boundViolations: string[];
  readonly trustedAfterMs: number;
  readonly quiescenceStale: string[];
  /** Everything above, and the phases, for the log. */
  readonly text: string;
}

async function chaosRun(run: number, seed: number): Promise<RunReport> {
  const wallStart = performance.now();
  const random = seededRandom(seed);
  // A small memory with LRU eviction: the flood makes Redis evict the app's keys, tag keys included.
  const redis = await ThrowawayRedis.start({ maxmemory: '4mb', maxmemoryPolicy: 'allkeys-lru' });
  const proxy = await FaultProxy.start({ targetPort: redis.port });
  const direct = new Redis(redis.url);
  direct.on('error', () => {});
  const instances: Instance[] = [];
  try {
    const env = { CACHE_PREFIX: uniquePrefix(), REDIS_URL: proxy.url, RESPONSE_CACHE: 'on', REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) };
    const [a, b] = await Promise.all([startTestApp(env), startTestApp(env)]);
    instances.push({ name: 'A', t: a }, { name: 'B', t: b });
    const pair = instances as [Instance, Instance];
    const prisma = a.app.database.prisma;
    const model = await CatalogModel.fromDatabase(prisma, await createCatalogFixture(prisma, { products: 8, reviewsEach: 2 }));
    const schedule = new FaultSchedule({ proxy, redis, direct, random: random.fork(0) });
    const origin = performance.now();

    await runWorkload(pair, model, schedule, random);

    // Quiescence: no fault, no request of the workload in flight.
    const quiesceStart = performance.now();
    const trustedAfterMs = await untilTrusted(pair, model);
    await sleep(SETTLE_MS);
    const quiescence = await checkAgainstDatabase(pair, model);
    const phases = [...schedule.phases, { name: 'quiescence', startedAt: quiesceStart, endedAt: performance.now() }];

    const judged = judgeReads(model);
    const report = {
      run,
      seed,
      counts: {
        writes: model.writes.filter((w) => w.outcome === 'done').length,
        domainErrors: model.writes.filter((w) => w.outcome === 'domain error').length,
        reads: model.reads.length,
        hits: model.reads.filter((r) => r.source === 'HIT').length,
        staleOwn: judged.stale.filter((s) => s.ownInstance).length,
        staleOther: judged.stale.filter((s) => !s.ownInstance).length,
        maxStaleAgeMs: Math.max(0, ...judged.stale.map((s) => s.ageMs)),
        quiescenceChecked: quiescence.checked,
        wallMs: performance.now() - wallStart,
      },
      failures: [...model.failures.map((f) => `${f.what} on ${f.span.instance} in '${f.span.phase}': ${f.detail}`), ...judged.failures],
      phantoms: judged.phantoms.map((p) => describeRead(p.read, origin, `${p.item} shown ${p.shown}`)),
      ownStale: judged.stale.filter((s) => s.ownInstance).map((s) => describeStale(s, origin)),
      boundViolations: judged.stale.filter((s) => !s.ownInstance && s.ageMs > STALE_BOUND_MS).map((s) => describeStale(s, origin)),
      trustedAfterMs,
      quiescenceStale: quiescence.stale,
    };
    const logs = instances.map((i) => ({ name: i.name, lines: i.t.logs }));
    return { ...report, text: runText(report, schedule.order, phases, model.reads, judged, origin, logs) };
  } finally {
    proxy.set({ kind: 'pass' });
    await Promise.all(instances.map((i) => i.t.stop()));
    await proxy.close();
    direct.disconnect();
    await redis.stop();
  }
}

/**
 * Writers (one per instance) and readers (two per instance) until the schedule has applied every
 * fault; each worker draws its operations from a random source of its own.
 */
async function runWorkload(pair: readonly [Instance, Instance], model: CatalogModel, schedule: FaultSchedule, random: SeededRandom): Promise<void> {
  let stopped = false;
  const chaos = schedule.run().finally(() => {
    stopped = true;
  });
  const writer = async (n: number) => {
    const own = pair[n % 2] as Instance;
    const workerRandom = random.fork(10 + n);
    while (!stopped) {
      await writeOnce(model, [own, pair[(n + 1) % 2] as Instance], workerRandom, () => schedule.phase);
      await sleep(workerRandom.between(0, 30));
    }
  };
  const reader = async (n: number) => {
    const own = pair[n % 2] as Instance;
    const workerRandom = random.fork(20 + n);
    while (!stopped) {
      await read(model, own, schedule.phase, pickRead(model, workerRandom));
      await sleep(workerRandom.between(0, 10));
    }
  };
  await Promise.all([chaos, writer(0), writer(1), reader(0), reader(1), reader(2), reader(3)]);
}

// Judging

interface StaleRead {
  readonly read: ReadRecord;
  readonly item: string;
  readonly shown: string;
  readonly version: Version<unknown>;
  readonly supersededBy: Version<unknown>;
  readonly ownInstance: boolean;
  readonly ageMs: number;
}

interface Judgement {
  readonly stale: StaleRead[];
  readonly phantoms: Array<{ read: ReadRecord; item: string; shown: string }>;
  readonly failures: string[];
}

/**
 * Every read against the history, after the run (so every write it may have shown is known). A read
 * is stale once, by the worst of what it showed: superseded on its own instance first, then oldest.
 */
function judgeReads(model: CatalogModel): Judgement {
  const judgement: Judgement = { stale: [], phantoms: [], failures: [] };
  for (const record of model.reads) {
    const failure = readFailure(record);
    if (failure) {
      judgement.failures.push(`${record.request.kind} ${JSON.stringify(record.request.variables)} on ${record.instance} in '${record.phase}': ${failure}`);
      continue;
    }
    let worst: StaleRead | undefined;
    for (const observation of observationsOf(record, model)) {
      const verdict = judge(model.history.versions(observation.item), record, observation.matches);
      if (verdict.kind === 'phantom') judgement.phantoms.push({ read: record, item: observation.item, shown: observation.shown });
      if (verdict.kind !== 'stale') continue;
      const stale = { read: record, item: observation.item, shown: observation.shown, version: verdict.shown, supersededBy: verdict.supersededBy, ownInstance: verdict.ownInstance, ageMs: verdict.ageMs };
      if (!worst || Number(stale.ownInstance) > Number(worst.ownInstance) || (stale.ownInstance === worst.ownInstance && stale.ageMs > worst.ageMs)) worst = stale;
    }
    if (worst) judgement.stale.push(worst);
  }
  return judgement;
}

// Quiescence

/**
 * Until both instances trust their L2 again. The L3 guard comes back up only on a call that
 * succeeds, so each poll sends a read to each instance, as traffic would.
 */
async function untilTrusted(instances: readonly Instance[], model: CatalogModel): Promise<number> {
  const started = performance.now();
  const probe: ReadRequest = { kind: 'categoryProducts', variables: { id: String(model.categories[0]) } };
  while (performance.now() - started < TRUSTED_DEADLINE_MS) {
    await Promise.all(instances.map((i) => i.t.query(READS[probe.kind], { ...probe.variables })));
    if (instances.every((i) => i.t.app.cache.trusted())) return performance.now() - started;
    await sleep(50);
  }
  return Number.NaN;
}

/**
 * Every request the readers made (the response tier may hold any of them), and every product, list
 * and page besides, asked of each instance twice: the second answer may come from the response tier's
 * copy of the first. Each must equal what the database says.
 */
async function checkAgainstDatabase(instances: readonly Instance[], model: CatalogModel): Promise<{ checked: number; stale: string[] }> {
  const requests = new Map<string, ReadRequest>();
  const add = (request: ReadRequest) => requests.set(requestKey(request), request);
  for (const record of model.reads) add(record.request);
  for (const id of model.productIds) {
    add({ kind: 'product', variables: { id: String(id) } });
    add({ kind: 'productReviews', variables: { id: String(id) } });
  }
  for (const category of model.categories) {
    add({ kind: 'categoryProducts', variables: { id: String(category) } });
    for (const after of [null, String(model.pageCursor)]) for (const first of [3, 100]) add({ kind: 'productPage', variables: { categoryId: String(category), after, first } });
  }
  const prisma = instances[0]!.t.app.database.prisma;
  const stale: string[] = [];
  let checked = 0;
  await inFlight([...requests.values()], 2, async (request) => {
    const expected = JSON.stringify(await truthOf(prisma, request));
    for (const instance of instances) {
      for (const ask of [1, 2]) {
        const response = await instance.t.query(READS[request.kind], { ...request.variables });
        checked += 1;
        const got = JSON.stringify(answerOf(response.body));
        if (response.status !== 200 || got !== expected) {
          stale.push(`${instance.name} ask ${ask} (${response.headers.get('x-response-cache') ?? '-'}) ${requestKey(request)}: status ${response.status} ${got}, database ${expected}`);
        }
      }
    }
  });
  return { checked, stale };
}

// Reporting

function describeRead(record: ReadRecord, origin: number, what: string): string {
  const at = (t: number) => ((t - origin) / 1000).toFixed(3);
  return `${record.instance} ${record.request.kind} ${JSON.stringify(record.request.variables)} sent ${at(record.sentAt)} s answered ${at(record.answeredAt)} s in '${record.phase}' (${record.source || '-'}): ${what}`;
}

function describeStale(stale: StaleRead, origin: number): string {
  const at = (t: number) => (Number.isFinite(t) ? `${((t - origin) / 1000).toFixed(3)} s` : 'setup');
  const write = (v: Version<unknown>) => (v.write === 0 ? 'the initial state' : `write #${v.write} (${v.cause} on ${v.instance}, sent ${at(v.sentAt)}, answered ${at(v.answeredAt)}, in '${v.phase}')`);
  return describeRead(stale.read, origin, `${stale.item} ${stale.shown} = ${write(stale.version)}; superseded ${(stale.ageMs / 1000).toFixed(3)} s before by ${write(stale.supersededBy)}`);
}

type LogLine = Record<string, unknown> & { msg: string };

/**
 * What the apps logged between two times about the tiers' and the bus's state, and about `tag`
 * (invalidations that failed, were not published, were purged): the sequence of events of a stale read.
 */
function logsBetween(logs: ReadonlyArray<{ name: string; lines: readonly LogLine[] }>, from: number, to: number, relevant: ReadonlySet<string>, origin: number): string[] {
  const epoch = (t: number) => performance.timeOrigin + t;
  const out: Array<{ time: number; text: string }> = [];
  for (const { name, lines } of logs) {
    for (const line of lines) {
      const time = Number(line.time);
      if (time < epoch(from) || time > epoch(to) || line.msg.startsWith('view flush')) continue;
      const tags = Array.isArray(line.tags) ? (line.tags as string[]) : undefined;
      if (tags && !tags.some((tag) => relevant.has(tag))) continue;
      const extra = tags ? ` ${tags.join(',')}` : line.reason ? ` (${JSON.stringify(line.reason)})` : line.cause ? ` (${JSON.stringify(line.cause)})` : '';
      out.push({ time, text: `      ${((time - epoch(origin)) / 1000).toFixed(3)} s ${name}: ${line.msg}${extra}` });
    }
  }
  return out
    .sort((x, y) => x.time - y.time)
    .slice(-30)
    .map((line) => line.text);
}

/** The cache tags under which the stale read's item and list are invalidated. */
function tagsOf(stale: StaleRead): Set<string> {
  const { kind, variables } = stale.read.request;
  const list = kind === 'product' ? [] : kind === 'productReviews' ? [`Product:${variables.id}:reviews`] : kind === 'categoryProducts' ? [`Category:${variables.id}:products`] : ['Query.products'];
  return new Set([stale.item.replace(/ \(.*\)$/, ''), `Product:${variables.id ?? ''}`, ...list]);
}

function runText(
  report: Omit<RunReport, 'text'>,
  order: readonly string[],
  phases: readonly PhaseRecord[],
  reads: readonly ReadRecord[],
  judged: Judgement,
  origin: number,
  logs: ReadonlyArray<{ name: string; lines: readonly LogLine[] }>,
): string {
  const lines = [`chaos run ${report.run}, seed ${report.seed} (CHAOS_SEED=${report.seed} to replay): faults in order ${order.join(', ')}`];
  lines.push('  phase             from      to  reads  hits  stale(writer)  stale(other)  max age   note');
  for (const phase of phases) {
    const inPhase = (record: ReadRecord) => record.phase === phase.name;
    const stale = judged.stale.filter((s) => inPhase(s.read));
    const done = phase.name === 'quiescence' ? undefined : reads.filter(inPhase);
    lines.push(
      [
        `  ${phase.name.padEnd(15)}`,
        ((phase.startedAt - origin) / 1000).toFixed(2).padStart(6),
        ((phase.endedAt - origin) / 1000).toFixed(2).padStart(7),
        String(done?.length ?? '-').padStart(6),
        String(done?.filter((r) => r.source === 'HIT').length ?? '-').padStart(5),
        String(stale.filter((s) => s.ownInstance).length).padStart(14),
        String(stale.filter((s) => !s.ownInstance).length).padStart(13),
        `${Math.max(0, ...stale.map((s) => s.ageMs)).toFixed(0)} ms`.padStart(9),
        `  ${phase.note ?? ''}`,
      ].join(' '),
    );
  }
  const c = report.counts;
  lines.push(
    `  ${c.writes} writes, ${c.domainErrors} domain errors, ${c.reads} reads (${c.hits} response-tier hits), ${report.failures.length} failed; stale: ${c.staleOwn} on the writer instance, ${c.staleOther} on the other (max ${c.maxStaleAgeMs.toFixed(0)} ms, ${report.boundViolations.length} over ${STALE_BOUND_MS} ms); ${report.phantoms.length} phantom`,
  );
  lines.push(
    `  quiescence: both trusted after ${report.trustedAfterMs.toFixed(0)} ms, ${c.quiescenceChecked} answers checked, ${report.quiescenceStale.length} differ from the database; run took ${(c.wallMs / 1000).toFixed(1)} s`,
  );
  const section = (title: string, items: readonly string[]) => {
    if (items.length === 0) return;
    lines.push(`  ${title} (${items.length}):`);
    for (const item of items.slice(0, 20)) lines.push(`    ${item}`);
    if (items.length > 20) lines.push(`    ... and ${items.length - 20} more`);
  };
  section('FAILED requests', report.failures);
  section('PHANTOM reads', report.phantoms);
  section('STALE on the writer instance', report.ownStale);
  section(`STALE on the other instance, over ${STALE_BOUND_MS} ms`, report.boundViolations);
  section('STALE at quiescence', report.quiescenceStale);
  section(
    'stale on the other instance, within the bound',
    judged.stale.filter((s) => !s.ownInstance && s.ageMs <= STALE_BOUND_MS).map((s) => describeStale(s, origin)),
  );
  // The first few violations with what the apps logged meanwhile: the sequence of events.
  const violations = judged.stale.filter((s) => s.ownInstance || s.ageMs > STALE_BOUND_MS).slice(0, 3);
  for (const stale of violations) {
    lines.push(`  events around: ${describeStale(stale, origin)}`);
    lines.push(...logsBetween(logs, stale.supersededBy.sentAt - 300, stale.read.answeredAt, tagsOf(stale), origin));
  }
  return lines.join('\n');
}

function summaryTable(reports: readonly RunReport[]): string {
  const header = ['run', 'seed', 'writes', 'domain', 'reads', 'hits', 'failed', 'phantom', 'stale writer', 'stale other', 'max age ms', 'over bound', 'trusted ms', 'checked', 'stale at quiescence', 'wall s'];
  const rows = reports.map((r) =>
    [
      r.run,
      r.seed,
      r.counts.writes,
      r.counts.domainErrors,
      r.counts.reads,
      r.counts.hits,
      r.failures.length,
      r.phantoms.length,
      r.counts.staleOwn,
      r.counts.staleOther,
      r.counts.maxStaleAgeMs.toFixed(0),
      r.boundViolations.length,
      r.trustedAfterMs.toFixed(0),
      r.counts.quiescenceChecked,
      r.quiescenceStale.length,
      (r.counts.wallMs / 1000).toFixed(1),
    ].map(String),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padStart(widths[i] as number)).join(' | ')} |`;
  return ['chaos summary', line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

// Configuration

const DEFAULT_SEED = 1;

/** The runs CHAOS_RUNS and CHAOS_SEED ask for: seeds CHAOS_SEED, CHAOS_SEED + 1, ... */
function chaosRuns(env: NodeJS.ProcessEnv): Array<{ run: number; seed: number }> {
  const runs = getValidInteger('CHAOS_RUNS', env.CHAOS_RUNS, 1, { min: 1, max: 1000 });
  // A fixed seed by default, so that `npm test` and CI replay the fault order that was run and
  // checked; CHAOS_SEED explores others (a random one found the open case in the issue-9 note).
  const first = getValidInteger('CHAOS_SEED', env.CHAOS_SEED, DEFAULT_SEED, { min: 0, max: 2 ** 31 });
  return Array.from({ length: runs }, (_, i) => ({ run: i + 1, seed: first + i }));
}

function getValidInteger(name: string, value: string | undefined, fallback: number, bounds: { min: number; max: number }): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < bounds.min || parsed > bounds.max) {
    throw new TypeError(`${name} must be an integer from ${bounds.min} to ${bounds.max}, got ${JSON.stringify(value)}`);
  }
  return parsed;
}
