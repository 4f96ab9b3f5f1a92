import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../test/support/ports.ts';
import { logLineCollector, type LogLine } from '../test/support/logLines.ts';

/** A server under test, running `src/main.ts` (or another {@link StartOptions.entry}) in its own process on a loopback port. */
export interface ServerProcess {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** The body GET /health/ready answered 200 with. */
  readiness: Readiness;
  /**
   * Every JSON line the server has written to stdout so far, when started with
   * {@link StartOptions.captureLogs}; empty otherwise. Complete once {@link stop} has resolved.
   */
  logs: readonly LogLine[];
  /** SIGTERM, then await exit (SIGKILL if it takes too long). Safe to call more than once. */
  stop(): Promise<void>;
}

export interface Readiness {
  status: string;
  tiers: Record<string, string>;
}

export interface StartOptions {
  /**
   * Parse the server's stdout into {@link ServerProcess.logs} instead of passing it through: what
   * the sections that count database loads from `LOG_LEVEL=debug` lines need. Lines that are not
   * JSON are still passed through. @default false
   */
  captureLogs?: boolean;
  /** The script to run, relative to the repository root; it must listen on PORT and HOST and answer GET /health/ready. @default "src/main.ts" */
  entry?: string;
  /** Node options before `--import tsx`, e.g. `--cpu-prof`. @default [] */
  nodeArgs?: readonly string[];
}

const HOST = '127.0.0.1';
const REPO_ROOT = path.resolve(import.meta.dirname, '..');
const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 10_000;

/** Children still running; the exit hook kills them, so no path out of the bench leaves one behind. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Starts a server with `env` on top of ours and resolves once it is ready to serve. */
export async function startServer(env: Record<string, string>, options: StartOptions = {}): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', options.entry ?? 'src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, PORT: String(port), HOST },
    stdio: ['ignore', options.captureLogs ? 'pipe' : 'inherit', 'inherit'],
  });
  running.add(child);
  const logs: LogLine[] = [];
  if (child.stdout) {
    // JSON lines are kept, anything else goes to our stdout as it was.
    child.stdout.setEncoding('utf8');
    child.stdout.on(
      'data',
      logLineCollector(logs, (line) => console.log(line)),
    );
  }
  // 'close', not 'exit': the last log lines may still be in the pipe when the process has exited.
  const exited = once(child, 'close').finally(() => running.delete(child));
  const url = `http://${HOST}:${port}`;
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= terminate(child, exited, url));
  try {
    const readiness = await waitUntilReady(url, exited);
    return { url, readiness, logs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// Private:

/** SIGTERM, then SIGKILL if the process has not exited after {@link STOP_TIMEOUT_MS}. */
async function terminate(child: ChildProcess, exited: Promise<unknown>, url: string): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    await exited.catch(() => {});
    return;
  }
  child.kill('SIGTERM');
  let killed = false;
  const timer = setTimeout(() => (killed = child.kill('SIGKILL')), STOP_TIMEOUT_MS);
  await exited.catch(() => {});
  clearTimeout(timer);
  if (killed) console.warn(`bench: server ${url} did not exit within ${STOP_TIMEOUT_MS} ms of SIGTERM; killed it`);
  else if (child.exitCode !== 0) console.warn(`bench: server ${url} exited with ${child.exitCode ?? child.signalCode} on SIGTERM`);
}

/** Polls GET /health/ready until 200; fails if the process exits first or the timeout passes. */
async function waitUntilReady(url: string, exited: Promise<unknown>): Promise<Readiness> {
  let hasExited = false;
  exited.then(
    () => (hasExited = true),
    () => (hasExited = true),
  );
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited) throw new Error(`server for ${url} exited before it was ready`);
    const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined);
    if (response?.status === 200) return (await response.json()) as Readiness;
    await sleep(200);
  }
  throw new Error(`server at ${url} not ready within ${READY_TIMEOUT_MS} ms`);
}
