// Redis faults under a steady load: two instances (every tier, the response tier on) share one
// throwaway redis-server that they reach through a FaultProxy. Readers keep both instances busy and
// a writer renames products on each in turn, while one fault after another (redisFaults.ts) hits
// Redis for a fixed period. For each fault: failed requests, stale reads, latency, and how long the
// instances took to trust their L2 and L3 again once it ended.
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultProxy } from '../test/support/faultProxy.ts';
import { ThrowawayRedis } from '../test/support/throwawayRedis.ts';
import type { BenchParams } from './params.ts';
import { REDIS_FAULTS, type FaultOutcome, type RedisFault } from './redisFaults.ts';
import { formatColumns, ms } from './report.ts';
import type { LogLine } from '../test/support/logLines.ts';
import { log, startServers, stopAll, type BenchContext, type Section } from './section.ts';
import type { Readiness, ServerProcess } from './serverProcess.ts';
import { distribution, type Distribution } from './stats.ts';
import { SteadyLoad, type Sample } from './steadyLoad.ts';

const INSTANCES = ['A', 'B'] as const;
const READERS = 8;
const WRITES_PER_SECOND = 20;
const LIST_SHARE = 0.2;
/** The products read and renamed: the first page, which the list read returns whole. */
const PRODUCTS = 20;
/** Load before the baseline, not measured: caches filled, hot paths compiled. */
const WARMUP_MS = 3000;
/** An instance that cannot hear the bus stops trusting its L2 within this (InvalidationBus deadlineMs). */
const BUS_DEADLINE_MS = 2000;
/** Recovery not reached after this is reported as such, and the next fault starts anyway. */
const RECOVERY_TIMEOUT_MS = 15_000;
const HEALTH_POLL_MS = 50;
/** Load between one fault's recovery and the next fault; counted with the recovery. */
const SETTLE_MS = 1000;
/** Failed requests and stale reads on the writer kept per window, as examples. */
const EXAMPLES = 2;
const TIMELINE_EVENTS = 500;
/** pino's warn level: these lines, and the info lines of state changes below, go into the timeline. */
const WARN = 40;
const STATE_CHANGES = /hearing|recovered|came back|subscribed/;

/** Counts over one window of the run. */
export interface WindowFigures {
  requests: number;
  failed: number;
  staleOnWriter: number;
  staleOnOther: number;
  /** Stale reads on the other instance that came more than {@link BUS_DEADLINE_MS} after the write's answer. */
  staleOverDeadline: number;
  /** The longest time from a write's answer to a read on the other instance that still missed it. */
  maxStaleLagMs: number;
  readMs: Distribution;
  writeMs: Distribution;
  /** The first failures and stale reads on the writer, and the stale read on the other instance with the longest lag. */
  examples: { failed: string[]; staleOnWriter: string[]; longestOnOther: string | undefined };
}

export interface FaultResult {
  fault: string;
  what: string;
  /** While the fault lasted (and while it was being undone). */
  during: WindowFigures;
  /** From the fault's end until both instances report L2 and L3 up, then {@link SETTLE_MS} more. */
  after: WindowFigures;
  /** From the fault's end until both instances report L2 and L3 up; null if not within {@link RECOVERY_TIMEOUT_MS}. */
  recoveryMs: number | null;
  /** What each instance logged at warn level or above during both windows, by message with its count. */
  warnings: Record<string, string[]>;
  outcome: FaultOutcome;
  /**
   * Both windows as one story, for a diagnosis: failed requests, stale reads and the instances'
   * state changes (their log lines), in ms from the fault's start; the first {@link TIMELINE_EVENTS}.
   */
  timeline: string[];
}

export interface FaultsReport {
  instances: number;
  readers: number;
  writesPerSecond: number;
  products: number;
  faultSeconds: number;
  warmup: WindowFigures;
  results: FaultResult[];
}

export const faultsSection: Section = {
  name: 'faults',
  title: `Redis faults: 2 instances under steady load (${READERS} readers, ${WRITES_PER_SECOND} renames/s), one fault at a time`,
  report: 'write-path',
  budgetMs: (params) => 60_000 + WARMUP_MS + REDIS_FAULTS.length * (params.faultSeconds * 1000 + RECOVERY_TIMEOUT_MS + SETTLE_MS),
  async run(context) {
    const report = await measure(context);
    return { table: formatTable(report), report, problems: findProblems(report) };
  },
};

async function measure(context: BenchContext): Promise<FaultsReport> {
  const { params, cleanup } = context;
  // allkeys-lru for the whole run; maxmemory only during the eviction fault (redisFaults.ts).
  const redis = await ThrowawayRedis.start({ maxmemoryPolicy: 'allkeys-lru' });
  const stopRedis = once(() => redis.stop());
  cleanup.defer('stop the throwaway Redis of the faults section', stopRedis);
  const proxy = await FaultProxy.start({ targetPort: redis.port });
  const closeProxy = once(() => proxy.close());
  cleanup.defer('close the fault proxy', closeProxy);
  log(`faults: throwaway redis-server on port ${redis.port}, fault proxy on ${proxy.port}; starting servers A and B`);
  // The run's own Redis is the one behind the proxy; everything else as every section's servers.
  const servers = await startServers(
    { ...context, params: { ...params, redisUrl: proxy.url } },
    INSTANCES.length,
    { cachePrefix: context.keyspace.subPrefix('faults'), env: { RESPONSE_CACHE: 'on', LOG_LEVEL: 'info' } },
    { captureLogs: true },
  );
  const productIds = Array.from({ length: Math.min(PRODUCTS, params.products) }, (_, i) => String(i + 1));
  const load = await SteadyLoad.start({ urls: servers.map((s) => s.url), productIds, readers: READERS, writesPerSecond: WRITES_PER_SECOND, listShare: LIST_SHARE });
  const loadStartedAt = performance.now();
  const phases: Phase[] = [];
  try {
    await sleep(WARMUP_MS);
    for (const fault of REDIS_FAULTS) {
      if (cleanup.closing) throw new Error('aborted');
      phases.push(await runFault(fault, { redis, proxy }, servers, params));
    }
  } finally {
    await load.stop();
    // Stopped before reading their logs: a server's last lines are only all read once it has exited.
    await stopAll(servers);
    await closeProxy();
    await stopRedis();
  }
  const logs = servers.map((server) => server.logs);
  const warmupEnd = phases[0]?.startedAt ?? performance.now();
  return {
    instances: servers.length,
    readers: READERS,
    writesPerSecond: WRITES_PER_SECOND,
    products: productIds.length,
    faultSeconds: params.faultSeconds,
    warmup: figures(load.samples, loadStartedAt, warmupEnd),
    results: phases.map((phase) => ({
      fault: phase.fault.name,
      what: phase.fault.what,
      during: figures(load.samples, phase.startedAt, phase.endedAt),
      after: figures(load.samples, phase.endedAt, phase.settledAt),
      recoveryMs: phase.recoveryMs,
      warnings: Object.fromEntries(INSTANCES.map((name, i) => [name, warningsBetween(logs[i] ?? [], phase.startedAt, phase.settledAt)])),
      outcome: phase.outcome,
      timeline: timeline(load.samples, logs, phase),
    })),
  };
}

/** One fault's run, in performance.now() time. */
interface Phase {
  fault: RedisFault;
  startedAt: number;
  /** When Redis was reachable again. */
  endedAt: number;
  recoveryMs: number | null;
  settledAt: number;
  outcome: FaultOutcome;
}

async function runFault(fault: RedisFault, target: Parameters<RedisFault['begin']>[0], servers: readonly ServerProcess[], params: BenchParams): Promise<Phase> {
  log(`faults: "${fault.name}" for ${params.faultSeconds} s`);
  const startedAt = performance.now();
  const end = await fault.begin(target);
  await sleep(params.faultSeconds * 1000 - (performance.now() - startedAt));
  const outcome = await end();
  const endedAt = performance.now();
  const recovered = await untilRecovered(servers);
  const recoveryMs = recovered ? performance.now() - endedAt : null;
  log(`faults: "${fault.name}" over; ${recovered ? `both instances back to L2 and L3 up in ${recoveryMs?.toFixed(0)} ms` : `NOT recovered within ${RECOVERY_TIMEOUT_MS} ms`}`);
  await sleep(SETTLE_MS);
  return { fault, startedAt, endedAt, recoveryMs, settledAt: performance.now(), outcome };
}

/** Polls every instance's /health/ready until all report L2 and L3 up; false after {@link RECOVERY_TIMEOUT_MS}. */
async function untilRecovered(servers: readonly ServerProcess[]): Promise<boolean> {
  const deadline = performance.now() + RECOVERY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    const states = await Promise.all(servers.map((server) => readiness(server.url)));
    if (states.every((s) => s?.tiers.L2 === 'up' && s.tiers.L3 === 'up')) return true;
    await sleep(HEALTH_POLL_MS);
  }
  return false;
}

async function readiness(url: string): Promise<Readiness | undefined> {
  try {
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) });
    return response.status === 200 ? ((await response.json()) as Readiness) : undefined;
  } catch {
    return undefined;
  }
}

/** The figures of the requests that started in [from, to). */
function figures(samples: readonly Sample[], from: number, to: number): WindowFigures {
  const window = samples.filter((s) => s.startedAt >= from && s.startedAt < to);
  const stale = window.flatMap((s) => (s.verdict?.kind === 'stale' ? [{ sample: s, verdict: s.verdict }] : []));
  const onWriter = stale.filter((s) => s.verdict.on === 'writer');
  const onOther = stale.filter((s) => s.verdict.on === 'other');
  const describeStale = ({ sample, verdict }: (typeof stale)[number]) =>
    `${INSTANCES[sample.instance]} read product ${verdict.productId}: write #${verdict.seen}, #${verdict.expected} answered ${verdict.lagMs.toFixed(0)} ms before`;
  const longestOnOther = onOther.reduce<(typeof stale)[number] | undefined>((longest, s) => (longest && longest.verdict.lagMs >= s.verdict.lagMs ? longest : s), undefined);
  return {
    requests: window.length,
    failed: window.filter((s) => s.failure !== undefined).length,
    staleOnWriter: onWriter.length,
    staleOnOther: onOther.length,
    staleOverDeadline: onOther.filter((s) => s.verdict.lagMs > BUS_DEADLINE_MS).length,
    maxStaleLagMs: Math.max(0, ...onOther.map((s) => s.verdict.lagMs)),
    readMs: distribution(window.filter((s) => s.kind === 'read').map((s) => s.durationMs)),
    writeMs: distribution(window.filter((s) => s.kind === 'write').map((s) => s.durationMs)),
    examples: {
      failed: window
        .filter((s) => s.failure !== undefined)
        .slice(0, EXAMPLES)
        .map((s) => `${INSTANCES[s.instance]} ${s.kind} failed after ${s.durationMs.toFixed(0)} ms: ${s.failure}`),
      staleOnWriter: onWriter.slice(0, EXAMPLES).map(describeStale),
      longestOnOther: longestOnOther ? describeStale(longestOnOther) : undefined,
    },
  };
}

/** Failures, stale reads and the instances' warnings and state changes during a phase, in time order. */
function timeline(samples: readonly Sample[], logs: readonly (readonly LogLine[])[], phase: Phase): string[] {
  const at = (t: number) => `${(t - phase.startedAt).toFixed(0).padStart(6)} ms`;
  const events: { t: number; text: string }[] = [{ t: phase.endedAt, text: 'fault ends' }];
  for (const s of samples) {
    if (s.startedAt < phase.startedAt || s.startedAt >= phase.settledAt) continue;
    if (s.failure !== undefined) events.push({ t: s.startedAt, text: `${INSTANCES[s.instance]} ${s.kind} failed after ${s.durationMs.toFixed(0)} ms: ${s.failure}` });
    else if (s.verdict?.kind === 'stale') {
      const v = s.verdict;
      events.push({ t: s.startedAt, text: `${INSTANCES[s.instance]} read stale on ${v.on}: product ${v.productId} #${v.seen}, #${v.expected} answered ${v.lagMs.toFixed(0)} ms before` });
    }
  }
  logs.forEach((lines, i) => {
    for (const line of lines) {
      const t = line.time - performance.timeOrigin;
      if (t < phase.startedAt || t >= phase.settledAt || (line.level < WARN && !STATE_CHANGES.test(line.msg))) continue;
      events.push({ t, text: `${INSTANCES[i]} log: ${line.msg}${typeof line.reason === 'string' ? ` (${line.reason})` : ''}` });
    }
  });
  return events
    .sort((a, b) => a.t - b.t)
    .slice(0, TIMELINE_EVENTS)
    .map((e) => `${at(e.t)}  ${e.text}`);
}

/** An instance's messages at warn level or above in [from, to) (performance.now() time), with their counts. */
function warningsBetween(logs: readonly LogLine[], from: number, to: number): string[] {
  const [fromMs, toMs] = [from, to].map((t) => performance.timeOrigin + t) as [number, number];
  const counts = new Map<string, number>();
  for (const line of logs) if (line.level >= WARN && line.time >= fromMs && line.time < toMs) counts.set(line.msg, (counts.get(line.msg) ?? 0) + 1);
  return [...counts].map(([msg, n]) => (n === 1 ? msg : `${msg} (x${n})`));
}

/** Failed requests, or a stale read on the instance that answered the write, anywhere in the run. */
function findProblems(report: FaultsReport): string[] {
  const windows: [string, WindowFigures][] = [
    ['warm-up', report.warmup],
    ...report.results.flatMap((r): [string, WindowFigures][] => [
      [`"${r.fault}"`, r.during],
      [`after "${r.fault}"`, r.after],
    ]),
  ];
  return windows.flatMap(([label, w]) => [
    ...(w.failed > 0 ? [`faults ${label}: ${w.failed} of ${w.requests} requests failed; first: ${w.examples.failed[0]}`] : []),
    ...(w.staleOnWriter > 0 ? [`faults ${label}: ${w.staleOnWriter} stale reads on the instance that answered the write; first: ${w.examples.staleOnWriter[0]}`] : []),
  ]);
}

function formatTable(report: FaultsReport): string {
  const header = ['fault', 'requests', 'failed', 'stale writer', 'stale other', `> ${BUS_DEADLINE_MS} ms`, 'read p50', 'read p99', 'write p50', 'write p99', 'recovery ms', 'after: failed', 'stale w/o'];
  const rows = report.results.map(({ fault, during: d, after: a, recoveryMs }) => [
    fault,
    String(d.requests),
    String(d.failed),
    String(d.staleOnWriter),
    String(d.staleOnOther),
    String(d.staleOverDeadline),
    ms(d.readMs.p50),
    ms(d.readMs.p99),
    ms(d.writeMs.p50),
    ms(d.writeMs.p99),
    recoveryMs === null ? `> ${RECOVERY_TIMEOUT_MS}` : recoveryMs.toFixed(0),
    String(a.failed),
    `${a.staleOnWriter}/${a.staleOnOther}`,
  ]);
  const all = report.results.flatMap((r) => [r.during, r.after]);
  const staleOnOther = all.reduce((sum, w) => sum + w.staleOnOther, 0);
  const overDeadline = all.reduce((sum, w) => sum + w.staleOverDeadline, 0);
  return [
    formatColumns(header, rows, 1),
    `Each fault ${report.faultSeconds} s on a throwaway redis-server (allkeys-lru) behind a fault proxy; ${report.instances} instances (CACHE_TIERS=l1,l2,l3, RESPONSE_CACHE=on); ${report.readers} readers in a closed loop over both (${100 - LIST_SHARE * 100}% one product by id, ${LIST_SHARE * 100}% the list of all ${report.products}), ${report.writesPerSecond} renames/s of those products on A and B in turn. Latencies in ms.`,
    `A read is stale if it started after a rename of its product was answered and shows an older name; "writer": the instance that served it had answered that rename. "after": from the fault's end until both instances report L2 and L3 up (recovery ms), then ${SETTLE_MS} ms more.`,
    `Stale reads on the other instance: ${staleOnOther} in all; ${overDeadline} more than ${BUS_DEADLINE_MS} ms (the bus deadline) after the rename's answer, which holds while Redis takes the writer's invalidation; one it could not take leaves the old row in L3 for the others until the writer's retry lands, once Redis answers it again; longest ${ms(Math.max(0, ...all.map((w) => w.maxStaleLagMs)))} ms.`,
    `Warm-up (${WARMUP_MS} ms, not in the table): ${report.warmup.requests} requests, ${report.warmup.failed} failed, stale ${report.warmup.staleOnWriter}/${report.warmup.staleOnOther}.`,
    ...report.results.flatMap((r) => [
      `  ${r.fault}: ${r.what}${r.outcome ? `; ${r.outcome}` : ''}`,
      ...Object.entries(r.warnings).flatMap(([instance, messages]) => (messages.length > 0 ? [`    ${instance} logged: ${messages.join('; ')}`] : [])),
      ...(
        [
          ['during', r.during],
          ['after', r.after],
        ] as const
      ).flatMap(([when, w]) => [
        ...w.examples.failed.map((e) => `    ${when}, failed: ${e}`),
        ...w.examples.staleOnWriter.map((e) => `    ${when}, stale on the writer: ${e}`),
        ...(w.examples.longestOnOther ? [`    ${when}, longest stale on the other instance: ${w.examples.longestOnOther}`] : []),
      ]),
    ]),
  ].join('\n');
}

/** A cleanup step that may also run in the section's own finally. */
function once(step: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= step());
}
