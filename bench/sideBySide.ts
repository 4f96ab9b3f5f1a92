// Side by side: the same warm response-tier hit on one server per variant (the same build, the same
// cold keyspace family), loaded in alternating rounds so that a machine that slows down during the
// run slows every variant alike; the ratio of each variant to the first is the cost. Variants are
// server environments: a section lists its own (edge.ts: CORS and the rate limiter; metrics.ts:
// METRICS on and off).
import { captureResponse } from './graphqlRequest.ts';
import { runLoad, type LoadResult } from './load.ts';
import { formatColumns, ms } from './report.ts';
import { log, startServers, stopAll, type Section } from './section.ts';
import type { ServerProcess } from './serverProcess.ts';

/** One server configuration; the first is the baseline every other is compared with. */
export interface Variant {
  readonly name: string;
  /** Server variables on top of the section's (RESPONSE_CACHE=on, every data tier). */
  readonly env: Record<string, string>;
  /** Request headers of its load, besides content-type. */
  readonly headers?: Record<string, string>;
}

const ROUNDS = 3;
const WARMUP_SECONDS = 1;

export interface SideBySide {
  readonly name: string;
  readonly title: string;
  /** The first is the baseline. */
  readonly variants: readonly Variant[];
  /** The note under the table: what cost is the target. */
  readonly target: string;
}

/** A section that loads a warm response-tier hit on one server per variant, in alternating rounds. */
export function sideBySideSection(spec: SideBySide): Section {
  const { name, variants: VARIANTS } = spec;
  return {
    name,
    title: spec.title,
    report: 'read-path',
    budgetMs: (params) => 2 * 60_000 + VARIANTS.length * (ROUNDS * roundSeconds(params.seconds) + WARMUP_SECONDS) * 1000,
    async run(context) {
      const { params } = context;
      const servers: ServerProcess[] = [];
      try {
        for (const variant of VARIANTS) {
          const settings = { cachePrefix: context.keyspace.subPrefix(`${name}-${servers.length}`), env: { RESPONSE_CACHE: 'on', ...variant.env } };
          const [server] = await startServers(context, 1, settings);
          if (!server) throw new Error('no server started');
          servers.push(server);
        }
        // Each server fills its response tier, answers the same bytes, and is warmed.
        const expected = await Promise.all(servers.map(async (server) => (await captureResponse(server.url), (await captureResponse(server.url)).body)));
        const expectedBody = expected[0] as string;
        const problems = expected.some((body) => body !== expectedBody) ? [`${name}: the variants answered different bodies`] : [];
        for (const [i, server] of servers.entries()) await runLoad(server.url, { seconds: WARMUP_SECONDS, connections: params.connections, expectedBody, headers: VARIANTS[i]!.headers ?? {} });

        const results: LoadResult[][] = VARIANTS.map(() => []);
        for (let round = 1; round <= ROUNDS; round++) {
          for (const [i, variant] of VARIANTS.entries()) {
            log(`round ${round}/${ROUNDS}: "${variant.name}" for ${roundSeconds(params.seconds)} s with ${params.connections} connections`);
            results[i]!.push(await runLoad(servers[i]!.url, { seconds: roundSeconds(params.seconds), connections: params.connections, expectedBody, headers: variant.headers ?? {} }));
          }
        }
        const rows = VARIANTS.map((variant, i) => summarise(variant, results[i]!));
        for (const row of rows) {
          if (row.non2xx + row.mismatches + row.errors > 0) problems.push(`${name}: "${row.name}" had ${row.non2xx} non-2xx, ${row.mismatches} wrong bodies, ${row.errors} errors`);
        }
        return { table: formatTable(rows, spec.target), report: { rounds: ROUNDS, roundSeconds: roundSeconds(params.seconds), connections: params.connections, variants: rows }, problems };
      } finally {
        await stopAll(servers);
      }
    },
  };
}

// Private:

/** Each variant gets the configured load time over its rounds, at least 2 s a round. */
function roundSeconds(seconds: number): number {
  return Math.max(2, Math.round(seconds / ROUNDS));
}

interface Row {
  name: string;
  env: Record<string, string>;
  /** Requests per second of each round, and over all of them. */
  perRound: number[];
  requestsPerSecond: number;
  /** Medians over the rounds. */
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  mismatches: number;
  errors: number;
}

function summarise(variant: Variant, rounds: readonly LoadResult[]): Row {
  const requests = rounds.reduce((sum, r) => sum + r.requests, 0);
  const perRound = rounds.map((r) => r.requestsPerSecond);
  return {
    name: variant.name,
    env: variant.env,
    perRound,
    requestsPerSecond: perRound.reduce((sum, r) => sum + r, 0) / Math.max(1, perRound.length),
    p50Ms: median(rounds.map((r) => r.p50Ms)),
    p99Ms: median(rounds.map((r) => r.p99Ms)),
    non2xx: rounds.reduce((sum, r) => sum + r.non2xx, 0),
    mismatches: rounds.reduce((sum, r) => sum + r.mismatches, 0),
    errors: rounds.reduce((sum, r) => sum + r.errors, 0) + (requests === 0 ? 1 : 0),
  };
}

function formatTable(rows: readonly Row[], target: string): string {
  const base = rows[0]?.requestsPerSecond ?? Number.NaN;
  const table = formatColumns(
    ['variant', 'req/s', 'per round', 'p50 ms', 'p99 ms', `vs ${rows[0]?.name ?? 'first'}`, 'cost'],
    rows.map((row) => {
      const ratio = row.requestsPerSecond / base;
      return [row.name, row.requestsPerSecond.toFixed(0), row.perRound.map((r) => r.toFixed(0)).join(' / '), ms(row.p50Ms), ms(row.p99Ms), ratio.toFixed(3), `${((1 - ratio) * 100).toFixed(1)}%`];
    }),
  );
  return [table, '', `rounds alternate between the variants (${ROUNDS} each); ${target}`].join('\n');
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
