import { serverEnvironment } from '../test/support/serverEnvironment.ts';
import type { BenchDatabase } from './benchDatabase.ts';
import type { Cleanup } from './cleanup.ts';
import { expectedTierStates } from './configurations.ts';
import { BENCH_TOKEN_SECRET } from './graphqlRequest.ts';
import type { BenchParams } from './params.ts';
import type { RedisKeyspace } from './redisKeyspace.ts';
import { startServer, type ServerProcess, type StartOptions } from './serverProcess.ts';

/** What every section gets from the run: its parameters, its database, its Redis keyspace, its cleanup. */
export interface BenchContext {
  readonly params: BenchParams;
  readonly database: BenchDatabase;
  readonly keyspace: RedisKeyspace;
  readonly cleanup: Cleanup;
}

/** One part of `npm run bench`, which `--only <name>` runs alone. */
export interface Section {
  /** What `--only` takes, and the section's key in the JSON report. */
  readonly name: string;
  /** The heading of its table in the summary. */
  readonly title: string;
  /** The JSON report it belongs to: reports/bench-read-path.json or reports/bench-write-path.json. */
  readonly report: 'read-path' | 'write-path';
  /** How long it may take at most; the watchdog's budget is the sum over the sections run. */
  budgetMs(params: BenchParams): number;
  run(context: BenchContext): Promise<SectionOutcome>;
}

export interface SectionOutcome {
  /** A fixed-width table (and notes under it) for the summary. */
  readonly table: string;
  /** The section's figures, as they go into the JSON report. */
  readonly report: unknown;
  /** Why the run must fail: wrong answers or errors, never slow figures. Empty when all went right. */
  readonly problems: readonly string[];
}

/** Settings of the servers a section starts, on top of the run's database and Redis. */
export interface ServerSettings {
  /** The section's own prefix (see {@link RedisKeyspace.subPrefix}), so that its keys start cold. */
  cachePrefix: string;
  /** Passed as CACHE_TIERS, and checked against GET /health/ready. @default "l1,l2,l3" */
  cacheTiers?: string;
  /** Any other variables (LOG_LEVEL, CACHE_GRACE, ...). */
  env?: Record<string, string>;
}

/**
 * Starts `count` servers at once on the run's database and Redis, each stopped by the run's cleanup
 * too; fails if a tier did not come up as asked (a server without its L3 would make a figure a lie).
 */
export async function startServers(context: BenchContext, count: number, settings: ServerSettings, options: StartOptions = {}): Promise<ServerProcess[]> {
  const cacheTiers = settings.cacheTiers ?? 'l1,l2,l3';
  // The response tier stays off unless a section asks (the response-tier section does).
  const env = serverEnvironment(
    { databaseUrl: context.database.url, redisUrl: context.params.redisUrl, authTokenSecret: BENCH_TOKEN_SECRET },
    { LOG_LEVEL: 'warn', ...settings.env, CACHE_PREFIX: settings.cachePrefix, CACHE_TIERS: cacheTiers },
  );
  if (context.cleanup.closing) throw new Error('aborted');
  const started = await Promise.allSettled(Array.from({ length: count }, () => startServer(env, options)));
  const servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  for (const server of servers) context.cleanup.defer(`stop the server at ${server.url}`, server.stop);
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stopAll(servers);
    throw failed.reason;
  }
  const expected = expectedTierStates(cacheTiers);
  for (const server of servers) {
    for (const [tier, state] of Object.entries(expected)) {
      if (server.readiness.tiers[tier] !== state) {
        await stopAll(servers);
        throw new Error(`server ${server.url} (CACHE_TIERS=${cacheTiers}): /health/ready reports ${tier} ${server.readiness.tiers[tier]}, expected ${state}`);
      }
    }
  }
  return servers;
}

export async function stopAll(servers: readonly ServerProcess[]): Promise<void> {
  await Promise.all(servers.map((server) => server.stop()));
}

/** A progress line of the run. */
export function log(message: string): void {
  console.log(`bench: ${message}`);
}
