// The compose file's own commands, in its order, with its environment, run on this machine: the
// migrate service's command on a fresh database, then the api service's command (the image's CMD,
// from the built dist/) with the api's environment. Service hosts are rewritten to this machine's
// PostgreSQL and Redis (the test's own database and key prefix), HOST to loopback and PORT to a free one.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { databaseUrlFor, redisUrl, runAsAdmin } from '../support/services.ts';
import { freePort } from '../support/ports.ts';
import { TEST_TOKEN_SECRET } from '../support/tokens.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const READY_TIMEOUT_MS = 45_000;

interface ComposeService {
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

const compose = parse(readFileSync(path.join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, ComposeService> };
const runId = `${process.pid}_${Date.now().toString(36)}`;
const databaseName = `gqlcache_deploy_${runId}`;
const databaseUrl = databaseUrlFor(databaseName);
const cachePrefix = `deploy-${runId}:`;

describe('docker-compose.yml, run here', () => {
  let api: { child: ChildProcess; url: string; port: number; stderr: () => string } | undefined;

  beforeAll(async () => {
    buildIfStale();
    await runAsAdmin(`CREATE DATABASE "${databaseName}"`);
  }, 120_000);

  afterAll(async () => {
    if (api && api.child.exitCode === null && api.child.signalCode === null) {
      const exited = once(api.child, 'exit');
      api.child.kill('SIGKILL');
      await exited;
    }
    await runAsAdmin(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`);
    const redis = new Redis(redisUrl);
    try {
      const keys = await redis.keys(`${cachePrefix}*`);
      if (keys.length > 0) await redis.unlink(...keys);
    } finally {
      redis.disconnect();
    }
  }, 60_000);

  it('the api waits for migrate, which waits for postgres; both use the same database', () => {
    const { migrate, 'api-1': api1, 'api-2': api2 } = compose.services;
    expect(migrate?.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(api1?.depends_on?.migrate?.condition).toBe('service_completed_successfully');
    expect(api1?.environment?.DATABASE_URL).toBe(migrate?.environment?.DATABASE_URL);
    expect(api2?.environment).toEqual(api1?.environment);
    // No command of its own: the api runs the image's CMD.
    expect(api1?.command).toBeUndefined();
    expect(imageCommand()).toEqual(['node', 'dist/main.js']);
  });

  it('migrate completes, then the api becomes ready, answers a query, passes its healthcheck and stops on SIGTERM', async () => {
    const migrate = compose.services.migrate!;
    const [command, ...args] = migrate.command!;
    const migrated = spawnSync(command!, args, { cwd: REPO_ROOT, env: environmentOf(migrate), encoding: 'utf8', timeout: 90_000 });
    expect(migrated.status, `${migrated.stdout}\n${migrated.stderr}`).toBe(0);

    const [node, ...apiArgs] = imageCommand();
    expect(node).toBe('node');
    const port = await freePort();
    const child = spawn(process.execPath, apiArgs, { cwd: REPO_ROOT, env: { ...environmentOf(compose.services['api-1']!), PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    api = { child, port, url: `http://127.0.0.1:${port}`, stderr: () => stderr };
    const exited = once(child, 'exit');

    await untilReady(api.url, child, api.stderr);
    const response = await fetch(`${api.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ product(id: 1) { id name category { name } } }' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data?: { product?: { id: string; name: string } } };
    expect(body.data?.product?.id).toBe('1');

    // The compose healthcheck, as written, against this port.
    const [, ...healthcheck] = compose.services['api-1']!.healthcheck!.test;
    const [healthNode, ...healthArgs] = healthcheck.map((part) => part.replace('127.0.0.1:4000', `127.0.0.1:${port}`));
    expect(healthNode).toBe('node');
    const health = spawnSync(process.execPath, healthArgs, { encoding: 'utf8', timeout: 15_000 });
    expect(health.status).toBe(0);

    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    expect(code, stderr).toBe(0);
  }, 150_000);
});

/** A service's environment with the compose services' hosts replaced by this machine's, and the test's database and prefix. */
function environmentOf(service: ComposeService): Record<string, string> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CACHE_PREFIX: cachePrefix };
  for (const [name, value] of Object.entries(service.environment ?? {})) {
    if (value.startsWith('${AUTH_TOKEN_SECRET')) env[name] = TEST_TOKEN_SECRET;
    else if (name === 'HOST') env[name] = '127.0.0.1';
    else env[name] = rewriteHost(value);
  }
  return env;
}

function rewriteHost(value: string): string {
  if (!/^(postgres(ql)?|rediss?):\/\//.test(value)) return value;
  const { hostname } = new URL(value);
  if (hostname === 'postgres') return databaseUrl;
  if (hostname === 'redis' || hostname === 'redis-views') return redisUrl;
  throw new Error(`no local service for ${value}`);
}

/** The Dockerfile's last CMD, which the api services run. */
function imageCommand(): string[] {
  const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const cmd = dockerfile
    .split('\n')
    .filter((line) => line.startsWith('CMD '))
    .at(-1);
  if (!cmd) throw new Error('the Dockerfile has no CMD');
  return JSON.parse(cmd.slice('CMD '.length)) as string[];
}

/** Runs `npm run build` unless dist/main.js is newer than every file under src/. */
function buildIfStale(): void {
  const built = path.join(REPO_ROOT, 'dist/main.js');
  if (existsSync(built) && newestUnder(path.join(REPO_ROOT, 'src')) < statSync(built).mtimeMs) return;
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}\n${build.stderr}`);
}

function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

async function untilReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the api exited before it was ready:\n${stderr()}`);
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (response?.status === 200) return;
    await sleep(100);
  }
  throw new Error(`the api at ${url} was not ready in ${READY_TIMEOUT_MS} ms:\n${stderr()}`);
}
