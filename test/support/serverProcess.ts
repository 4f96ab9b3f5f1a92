import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { logLineCollector, type LogLine } from './logLines.ts';
import { freePort } from './ports.ts';
import { serverEnvironment } from './serverEnvironment.ts';
import { testServices } from './services.ts';
import { adminToken } from './tokens.ts';

/** A real server process (`src/main.ts`), for tests about several instances. */
export interface ServerProcess {
  readonly url: string;
  /** Every JSON log line it has written so far. */
  readonly logs: LogLine[];
  /** POSTs an operation; `token` signs it in as that viewer, else it is anonymous. */
  query(query: string, variables?: Record<string, unknown>, token?: string): Promise<{ status: number; body: any }>;
  /** POSTs an operation as the seeded admin, as the catalog's writes require. */
  mutate(query: string, variables?: Record<string, unknown>): Promise<{ status: number; body: any }>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL: no cleanup of any kind. */
  kill(): Promise<void>;
}

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');

/** Starts `src/main.ts` on the run's database and Redis with `env` on top, at debug level so its loads are logged. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      ...serverEnvironment(testServices(), { LOG_LEVEL: 'debug', ...env }),
      PORT: String(port),
      HOST: '127.0.0.1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  child.stdout.on('data', logLineCollector(logs));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(url, child, () => stderr);
  const query: ServerProcess['query'] = async (text, variables, token) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query: text, variables }),
    });
    return { status: response.status, body: await response.json() };
  };

  return {
    url,
    logs,
    query,
    async mutate(text, variables) {
      return query(text, variables, await adminToken());
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitUntilReady(url: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`server exited before it was ready:\n${stderr()}`);
    const response = await fetch(`${url}/health/ready`).catch(() => undefined);
    if (response?.status === 200) return;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error(`server at ${url} not ready in 30 s:\n${stderr()}`);
}
