import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, inject } from 'vitest';
import { createApp, type App, type AppOptions } from '../../src/app.ts';
import { loadConfig } from '../../src/config/config.ts';
import { FaultProxy } from './faultProxy.ts';
import { logLineCollector, type LogLine } from './logLines.ts';
import { serverEnvironment } from './serverEnvironment.ts';
import { redisUrl, testServices } from './services.ts';
import { ThrowawayRedis } from './throwawayRedis.ts';
import { adminToken } from './tokens.ts';

export interface TestApp {
  readonly app: App;
  readonly url: string;
  /** The Redis key prefix of this app's L3 entries. */
  readonly prefix: string;
  /** Every log line the app wrote, parsed. */
  readonly logs: LogLine[];
  /** Redis commands the app's L3 client sent, by name, since the last reset. */
  readonly redisCommands: string[];
  /** POSTs an operation; `token` signs it in as that viewer, else it is anonymous. */
  query(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult>;
  /** POSTs an operation as the seeded admin, as the catalog's writes require. */
  mutate(query: string, variables?: Record<string, unknown>): Promise<GraphQLResult>;
  /** SQL statements the app sent while `fn` ran. */
  sqlDuring(fn: () => Promise<unknown>): Promise<number>;
  stop(): Promise<void>;
}

/** Configuration variables on top of the tests' defaults; `undefined` unsets one. */
type Env = Record<string, string | undefined>;

export interface GraphQLResult {
  status: number;
  headers: Headers;
  body: { data?: Record<string, any> | null; errors?: Array<{ message: string; path?: Array<string | number>; extensions?: Record<string, unknown> }> };
}

/** A unique Redis key prefix per test file, so parallel files and runs never share entries. */
export function uniquePrefix(): string {
  return `test:${inject('runId')}:${randomUUID().slice(0, 8)}:`;
}

/**
 * Starts the real app in this process, on the run's database and real Redis, on a free port.
 * `env` overrides the configuration (CACHE_TIERS, REDIS_URL, ...).
 */
export async function startTestApp(env: Record<string, string | undefined> = {}, options: AppOptions = {}): Promise<TestApp> {
  const config = loadConfig(serverEnvironment(testServices(), { CACHE_PREFIX: uniquePrefix(), ...env }));
  const logs: LogLine[] = [];
  const collect = logLineCollector(logs);
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        collect(chunk);
        done();
      },
    }),
  );
  const app = await createApp(config, logger, options);
  const url = await app.listen(0, '127.0.0.1');

  async function query(text: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResult> {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: text, variables }),
    });
    return { status: response.status, headers: response.headers, body: (await response.json()) as GraphQLResult['body'] };
  }

  const redisCommands: string[] = [];
  if (app.cache.redis) {
    // Instrumentation, not a mock: every command still goes to the real Redis.
    const send = app.cache.redis.sendCommand.bind(app.cache.redis) as (...args: unknown[]) => unknown;
    // Every argument passed on: a Cluster client's third one routes the command to a node.
    app.cache.redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      // The bus publishes a heartbeat twice a second on this connection: not a command of the read path.
      if (command.name !== 'publish') redisCommands.push(command.name);
      return send(command, ...rest);
    }) as typeof app.cache.redis.sendCommand;
  }

  return {
    app,
    url,
    prefix: config.cachePrefix,
    logs,
    redisCommands,
    query,
    async mutate(text, variables) {
      return query(text, variables, await adminToken());
    },
    async sqlDuring(fn) {
      const before = app.database.statementCount();
      await fn();
      return app.database.statementCount() - before;
    },
    async stop() {
      await app.stop();
    },
  };
}

/** One app for all the tests of a file: started before them, stopped (and its keys deleted) after. */
export function useTestApp(env: Record<string, string | undefined> = {}): () => TestApp {
  let started: TestApp | undefined;
  beforeAll(async () => {
    started = await startTestApp(env);
  });
  afterAll(async () => {
    if (!started) return;
    await started.stop();
    await deletePrefix(started.prefix);
  });
  return () => {
    if (!started) throw new Error('the test app has not started');
    return started;
  };
}

/**
 * Several instances of the app sharing one key prefix (so one L3, and one invalidation channel),
 * started before the file's tests and stopped, with their keys deleted, after.
 */
export function useTestApps(count: number, env: Env | (() => Env) = {}, options: AppOptions = {}): () => TestApp[] {
  const prefix = uniquePrefix();
  let started: TestApp[] = [];
  beforeAll(async () => {
    const resolved = typeof env === 'function' ? env() : env;
    started = await Promise.all(Array.from({ length: count }, () => startTestApp({ CACHE_PREFIX: prefix, ...resolved }, options)));
  });
  afterAll(async () => {
    await Promise.all(started.map((t) => t.stop()));
    await deletePrefix(prefix);
  });
  return () => {
    if (started.length !== count) throw new Error('the test apps have not started');
    return started;
  };
}

/**
 * Two instances, A and B, sharing one key prefix, for the tests about what one instance's write
 * does to the other. `env` may be a function, for a value known only once an earlier `beforeAll`
 * has run (a throwaway Redis's URL); `started` gets the pair once both are up.
 */
export function useTwoInstances(env: Env | (() => Env), started: (pair: [a: TestApp, b: TestApp]) => unknown, options: AppOptions = {}): void {
  const apps = useTestApps(2, env, options);
  beforeAll(() => started(apps() as [TestApp, TestApp]));
}

/**
 * For the enclosing describe: a throwaway Redis, a FaultProxy in front of it, and an app whose
 * environment `env` makes from the proxy's URL (its REDIS_URL). After the tests the proxy passes
 * again before the app stops, so a fault a test left on cannot hold the stop.
 */
export function useAppBehindRedisProxy(env: (proxyUrl: string) => Env): { redis: ThrowawayRedis; proxy: FaultProxy; app: TestApp } {
  const started = {} as { redis: ThrowawayRedis; proxy: FaultProxy; app: TestApp };
  beforeAll(async () => {
    started.redis = await ThrowawayRedis.start();
    started.proxy = await FaultProxy.start({ targetPort: started.redis.port });
    started.app = await startTestApp(env(started.proxy.url));
  });
  afterAll(async () => {
    started.proxy?.set({ kind: 'pass' });
    await started.app?.stop();
    await started.proxy?.close();
    await started.redis?.stop();
  });
  return started;
}

/** Every key under a prefix, found with SCAN (never KEYS: the Redis is shared). */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under a prefix (never FLUSHALL: the Redis is shared). */
export async function deletePrefix(prefix: string): Promise<void> {
  const redis = new Redis(redisUrl);
  try {
    const keys = await keysUnder(redis, prefix);
    for (let i = 0; i < keys.length; i += 500) await redis.unlink(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}

/** The query of the read-path issue: 20 products, their category, reviews and the reviews' authors. */
export const NESTED_QUERY = `{ products(first: 20) { id name priceCents category { id name } reviews { id rating body author { id name } } } }`;
