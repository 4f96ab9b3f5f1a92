/** What one bench run measures, read from the environment; every knob has a default so `npm run bench` just works. */
export interface BenchParams {
  /** A PostgreSQL server URL; the bench creates (and drops) its own database on that server. */
  serverUrl: string;
  redisUrl: string;
  /** Catalog size seeded into the bench database. */
  products: number;
  /** Load duration per configuration. */
  seconds: number;
  /** Concurrent autocannon connections. */
  connections: number;
}

type Env = Record<string, string | undefined>;

export function readParams(env: Env = process.env): BenchParams {
  return {
    serverUrl: env.BENCH_DATABASE_URL ?? env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    products: positiveInteger(env, 'BENCH_PRODUCTS', 1000),
    seconds: positiveInteger(env, 'BENCH_SECONDS', 10),
    connections: positiveInteger(env, 'BENCH_CONNECTIONS', 20),
  };
}

/**
 * How long the whole run may take before the watchdog gives up: setup (seeding grows with the
 * catalog), then per configuration a start, the load itself and a stop. Generous on purpose: it only
 * exists so that a hang anywhere still ends the run and its cleanup.
 */
export function runBudgetMs(params: BenchParams, configurations: number): number {
  const setupMs = 120_000 + params.products * 5;
  const perConfigurationMs = 90_000 + params.seconds * 1000;
  return setupMs + configurations * perConfigurationMs;
}

function positiveInteger(env: Env, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`${name}=${value}: must be a whole number of at least 1`);
  return Number(value);
}
