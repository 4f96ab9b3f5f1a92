import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface ThrowawayRedisOptions {
  /**
   * More redis-server arguments, after the defaults (nothing on disk), which they override: e.g.
   * `['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']`. With some, files go to a temporary
   * directory of its own, kept across restart() and removed by stop(). @default []
   */
  args?: readonly string[];
}

/**
 * A redis-server of the test's own, on a free loopback port, that the test may kill, pause or
 * restart. The shared Redis is never touched.
 */
export class ThrowawayRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string | undefined,
    private readonly args: readonly string[],
  ) {}

  static async start(options: ThrowawayRedisOptions = {}): Promise<ThrowawayRedis> {
    const args = options.args ?? [];
    // Only arguments can make it write anything (the defaults keep nothing on disk).
    const dir = args.length > 0 ? await mkdtemp(path.join(tmpdir(), 'redis-throwaway-')) : undefined;
    const redis = new ThrowawayRedis(await freePort(), dir, args);
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port and resolves once it answers PING. */
  async restart(): Promise<void> {
    this.process = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', ...(this.dir ? ['--dir', this.dir] : []), '--save', '', '--appendonly', 'no', ...this.args],
      { stdio: 'ignore' },
    );
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      probe.on('error', () => {});
      try {
        await probe.connect();
        await probe.ping();
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      } finally {
        probe.disconnect();
      }
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

  /** kill(), then removes its directory (and whatever it persisted there), if it has one. */
  async stop(): Promise<void> {
    await this.kill();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }

  /** SIGSTOP: the connection stays open but nothing answers, like an overloaded server. */
  pause(): void {
    this.process?.kill('SIGSTOP');
  }

  resume(): void {
    this.process?.kill('SIGCONT');
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
