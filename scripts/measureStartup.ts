// Startup time and idle memory of the built server (`node dist/main.js`) against the sources run
// through tsx (`node --import tsx src/main.ts`), on the embedded database and on PostgreSQL + Redis.
//
//   npm run build && node --import tsx scripts/measureStartup.ts [runs]
//
// Ready: from spawn until GET /health/ready answers 200 (polled every 20 ms). RSS: VmRSS of the
// process after it has idled IDLE_MS past ready. Commands alternate run by run so that a change in
// the machine's load hits both alike. Warm starts: each database is migrated and seeded before the
// first timed run. PostgreSQL: a database of its own, dropped at the end; Redis: a key prefix of its
// own, deleted at the end. Services: DATABASE_URL's server (default postgresql://postgres@127.0.0.1:5432/postgres)
// and REDIS_URL (default redis://127.0.0.1:6379).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import { applyMigrations } from '../src/database/migrator.ts';
import { openServerSession } from '../src/database/sqlSession.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const RUNS = Number(process.argv[2] ?? 5);
const IDLE_MS = 5_000;
const READY_TIMEOUT_MS = 120_000;
const SECRET = 'measure-startup-secret-0123456789abcdef';

const COMMANDS = [
  { name: 'node dist/main.js', args: ['dist/main.js'] },
  { name: 'node --import tsx src/main.ts', args: ['--import', 'tsx', 'src/main.ts'] },
] as const;

interface Sample {
  readyMs: number;
  rssMiB: number;
}

async function main(): Promise<void> {
  if (!existsSync(path.join(REPO_ROOT, 'dist/main.js'))) throw new Error('dist/main.js is missing: run `npm run build` first');
  const results: Array<{ database: string; command: string; samples: Sample[] }> = [];

  // The embedded database: one data directory, created by an untimed first start (migrate + seed).
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'measure-startup-'));
  try {
    const env = { PGLITE_DATA_DIR: path.join(dataDir, 'pglite') };
    await measureOnce(COMMANDS[0].args, env);
    results.push(...(await measureBoth('embedded', env)));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }

  // PostgreSQL + Redis: a database and a key prefix of this run's own.
  const adminUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const name = `gqlcache_startup_${process.pid}`;
  const prefix = `startup-${process.pid}:`;
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();
  await admin(adminUrl, `CREATE DATABASE "${name}"`);
  try {
    await prepareDatabase(databaseUrl);
    results.push(...(await measureBoth('PostgreSQL + Redis', { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, CACHE_PREFIX: prefix })));
  } finally {
    await admin(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await deleteKeys(redisUrl, prefix);
  }

  console.log(`\n${RUNS} runs each, medians (ready: spawn to GET /health/ready 200; RSS: VmRSS ${IDLE_MS / 1000} s after ready)\n`);
  console.log('| database | command | ready ms | RSS MiB | runs (ready ms) |');
  console.log('|---|---|---|---|---|');
  for (const r of results) {
    const ready = median(r.samples.map((s) => s.readyMs));
    const rss = median(r.samples.map((s) => s.rssMiB));
    console.log(`| ${r.database} | \`${r.command}\` | ${ready.toFixed(0)} | ${rss.toFixed(0)} | ${r.samples.map((s) => s.readyMs.toFixed(0)).join(', ')} |`);
  }
}

/** RUNS runs of each command, alternating which goes first. */
async function measureBoth(database: string, env: Record<string, string>): Promise<Array<{ database: string; command: string; samples: Sample[] }>> {
  const samples = COMMANDS.map(() => [] as Sample[]);
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? [0, 1] : [1, 0];
    for (const i of order) {
      const sample = await measureOnce(COMMANDS[i]!.args, env);
      samples[i]!.push(sample);
      console.log(`${database}, ${COMMANDS[i]!.name}: ready in ${sample.readyMs.toFixed(0)} ms, ${sample.rssMiB.toFixed(1)} MiB`);
    }
  }
  return COMMANDS.map((command, i) => ({ database, command: command.name, samples: samples[i]! }));
}

async function measureOnce(args: readonly string[], env: Record<string, string>): Promise<Sample> {
  const port = await freePort();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: String(port), AUTH_TOKEN_SECRET: SECRET, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  try {
    const readyMs =
      (await untilReady(
        `http://127.0.0.1:${port}`,
        () => child.exitCode !== null,
        () => stderr,
      )) - started;
    await sleep(IDLE_MS);
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
    return { readyMs, rssMiB: kib / 1024 };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  }
}

/** Polls GET /health/ready; resolves with the time it first answered 200. */
async function untilReady(url: string, hasExited: () => boolean, stderr: () => string): Promise<number> {
  const deadline = performance.now() + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (hasExited()) throw new Error(`server exited before it was ready:\n${stderr()}`);
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (response?.status === 200) return performance.now();
    await sleep(20);
  }
  throw new Error(`${url} not ready in ${READY_TIMEOUT_MS} ms:\n${stderr()}`);
}

async function prepareDatabase(databaseUrl: string): Promise<void> {
  const session = await openServerSession(databaseUrl);
  try {
    await applyMigrations(session, path.join(REPO_ROOT, 'prisma/migrations'));
  } finally {
    await session.close();
  }
  const seed = spawnSync(process.execPath, ['scripts/prisma.mjs', 'db', 'seed'], {
    cwd: REPO_ROOT,
    // prisma.config.ts's seed command is `tsx prisma/seed.ts`: tsx must be on the PATH, as under npm.
    env: { ...process.env, PATH: `${path.join(REPO_ROOT, 'node_modules/.bin')}${path.delimiter}${process.env.PATH ?? ''}`, DATABASE_URL: databaseUrl, SEED_PRODUCTS: '1000' },
    encoding: 'utf8',
  });
  if (seed.status !== 0) throw new Error(`prisma db seed failed:\n${seed.stdout}\n${seed.stderr}`);
}

async function admin(url: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url);
  try {
    for await (const keys of redis.scanStream({ match: `${prefix}*`, count: 500 }) as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
  } finally {
    redis.disconnect();
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

await main();
