import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.ts';

/** Redis's eviction policies (`maxmemory-policy`). */
export type MaxmemoryPolicy = 'noeviction' | 'allkeys-lru' | 'allkeys-lfu' | 'allkeys-random' | 'volatile-lru' | 'volatile-lfu' | 'volatile-random' | 'volatile-ttl';

export interface ThrowawayRedisOptions {
  /** Redis's `maxmemory`: bytes, or a size such as `'2mb'`. @default no limit */
  maxmemory?: number | string;
  /** What Redis does when `maxmemory` is reached. @default 'noeviction' (Redis's own default) */
  maxmemoryPolicy?: MaxmemoryPolicy;
  /**
   * Keep every acknowledged write across {@link ThrowawayRedis.restart}: an append-only file, fsynced
   * on every write, in a temporary directory that {@link ThrowawayRedis.stop} removes.
   * @default false: nothing is ever written to disk, and a restart starts empty
   */
  appendonly?: boolean;
  /**
   * More `redis-server` arguments, such as `['--hz', '100']`. They may override the options above,
   * not the port, address, directory or logging, which the harness needs.
   * @default []
   */
  extraArgs?: readonly string[];
}

/**
 * A redis-server of the test's own, on a free loopback port, that the test may kill, pause or
 * restart. The shared Redis is never touched.
 */
export class ThrowawayRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly args: readonly string[],
    /** What stop() removes: a persistent instance's directory, or the dump file nobody should write. */
    private readonly files: string,
  ) {}

  static async start(options: ThrowawayRedisOptions = {}): Promise<ThrowawayRedis> {
    const port = await freePort();
    const args = serverArgs(port, options);
    // The default is dump.rdb in the working directory, which a start would load if anything left one
    // there. A persistent instance gets a directory of its own; the others a dump name of their own,
    // which nothing writes, so that they always come back empty.
    const files = options.appendonly ? { dir: await mkdtemp(path.join(tmpdir(), 'throwaway-redis-')), dbfilename: 'dump.rdb' } : { dir: tmpdir(), dbfilename: `throwaway-redis-${randomUUID()}.rdb` };
    args.push('--dir', files.dir, '--dbfilename', files.dbfilename);
    const redis = new ThrowawayRedis(port, args, options.appendonly ? files.dir : path.join(files.dir, files.dbfilename));
    try {
      await redis.restart();
    } catch (error) {
      await redis.stop();
      throw error;
    }
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /**
   * Kills the server if it runs, starts it again on the same port and resolves once it answers
   * PING. Without {@link ThrowawayRedisOptions.appendonly} it comes back empty.
   */
  async restart(): Promise<void> {
    await this.kill();
    const child = spawn('redis-server', this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.process = child;
    // A failed kill or spawn is reported by the wait below or by the next start, never as a crash.
    child.on('error', () => {});
    await untilReady(child, 10_000);
    const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
    } finally {
      probe.disconnect();
    }
  }

  /** SIGKILL: the connection drops at once. */
  async kill(): Promise<void> {
    const child = this.process;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and removes its files; for afterAll/afterEach. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.files, { recursive: true, force: true });
  }

  /** SIGSTOP: the connection stays open but nothing answers, like an overloaded server. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }
}

// Private:

/** Everything but the files' location; validates the options. */
function serverArgs(port: number, options: ThrowawayRedisOptions): string[] {
  const args = ['--save', ''];
  if (options.maxmemory !== undefined) args.push('--maxmemory', getValidMaxmemory(options.maxmemory));
  if (options.maxmemoryPolicy !== undefined) args.push('--maxmemory-policy', options.maxmemoryPolicy);
  args.push('--appendonly', options.appendonly ? 'yes' : 'no');
  if (options.appendonly) args.push('--appendfsync', 'always');
  args.push(...(options.extraArgs ?? []));
  // Last, so that extraArgs cannot move the server or silence the line untilReady waits for.
  args.push('--port', String(port), '--bind', '127.0.0.1', '--daemonize', 'no', '--logfile', '', '--loglevel', 'notice');
  return args;
}

/**
 * Resolves when the server logs that it accepts connections (after loading its append-only file,
 * if any), rather than polling its port; rejects with its output if it exits first.
 */
async function untilReady(child: ChildProcess, ms: number): Promise<void> {
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not accept connections within ${ms} ms`), ms);
    const onOutput = (chunk: Buffer) => {
      // Only the tail matters, for the error message.
      output = (output + chunk.toString('utf8')).slice(-4000);
      if (output.includes('Ready to accept connections')) settle(resolve);
    };
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${signal ?? `code ${code}`}) before accepting connections`);
    const onError = (error: Error) => fail(error.message);
    function settle(then: () => void) {
      clearTimeout(timer);
      child.off('exit', onExit).off('error', onError);
      // From now on the pipes are drained unread, so that a full pipe never blocks the server.
      child.stdout?.off('data', onOutput).resume();
      child.stderr?.off('data', onOutput).resume();
      then();
    }
    function fail(reason: string) {
      settle(() => reject(new Error(`redis-server ${child.spawnargs.slice(1).join(' ')} ${reason}:\n${output}`)));
      child.kill('SIGKILL');
    }
    child.stdout?.on('data', onOutput);
    child.stderr?.on('data', onOutput);
    child.once('exit', onExit).once('error', onError);
  });
}

function getValidMaxmemory(maxmemory: number | string): string {
  const valid = typeof maxmemory === 'number' ? Number.isInteger(maxmemory) && maxmemory >= 0 : /^\d+(b|k|kb|m|mb|g|gb)?$/i.test(maxmemory);
  if (!valid) throw new TypeError(`ThrowawayRedis: maxmemory must be bytes or a size such as '2mb', got ${JSON.stringify(maxmemory)}`);
  return String(maxmemory);
}
