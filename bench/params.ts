/** What one bench run measures, read from the environment; every knob has a default so `npm run bench` just works. */
export interface BenchParams {
  /** A PostgreSQL server URL; the bench creates (and drops) its own database on that server. */
  serverUrl: string;
  redisUrl: string;
  /** Catalog size seeded into the bench database. `BENCH_PRODUCTS` @default 1000 */
  products: number;
  /** Read-path load duration per configuration. `BENCH_SECONDS` @default 10 */
  seconds: number;
  /** Concurrent autocannon connections, for the read path and the XFetch expiry load. `BENCH_CONNECTIONS` @default 20 */
  connections: number;
  /** Concurrent cold requests of the stampede section, spread over its 3 servers. `BENCH_STAMPEDE_REQUESTS` @default 1000 */
  stampedeRequests: number;
  /** Load duration of each XFetch expiry run; must exceed the 10 s Product TTL to span an expiry. `BENCH_EXPIRY_SECONDS` @default 14 */
  expirySeconds: number;
  /** Writes whose propagation to the other instance is timed. `BENCH_PROPAGATION_WRITES` @default 1000 */
  propagationWrites: number;
  /** Duration of the create/delete workload of the tag memory section. `BENCH_TAG_MEMORY_SECONDS` @default 30 */
  tagMemorySeconds: number;
  /** How long each Redis fault of the faults section lasts. `BENCH_FAULT_SECONDS` @default 5 */
  faultSeconds: number;
}

type Env = Record<string, string | undefined>;

export function readParams(env: Env = process.env): BenchParams {
  return {
    serverUrl: env.BENCH_DATABASE_URL ?? env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    products: positiveInteger(env, 'BENCH_PRODUCTS', 1000),
    seconds: positiveInteger(env, 'BENCH_SECONDS', 10),
    connections: positiveInteger(env, 'BENCH_CONNECTIONS', 20),
    stampedeRequests: positiveInteger(env, 'BENCH_STAMPEDE_REQUESTS', 1000),
    expirySeconds: positiveInteger(env, 'BENCH_EXPIRY_SECONDS', 14),
    propagationWrites: positiveInteger(env, 'BENCH_PROPAGATION_WRITES', 1000),
    tagMemorySeconds: positiveInteger(env, 'BENCH_TAG_MEMORY_SECONDS', 30),
    faultSeconds: positiveInteger(env, 'BENCH_FAULT_SECONDS', 5),
  };
}

/** Time to create, migrate and seed the bench database (seeding grows with the catalog). */
export function setupBudgetMs(params: BenchParams): number {
  return 120_000 + params.products * 5;
}

function positiveInteger(env: Env, name: string, fallback: number): number {
  const value = env[name]?.trim();
  if (value === undefined || value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`${name}=${value}: must be a whole number of at least 1`);
  return Number(value);
}
