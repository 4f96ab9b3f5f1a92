import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { connectionOptions } from '../../src/cache/tiers/redisClient.ts';
import { freePort } from './ports.ts';

/**
 * A throwaway cluster and a ready client of it for the tests of a file or a `describe`: started
 * before them, stopped after. `started` gets the client.
 */
export function useThrowawayCluster(started: (client: Cluster) => unknown, options: ClusterOptions = {}): void {
  let cluster: ThrowawayCluster | undefined;
  let client: Cluster | undefined;
  beforeAll(async () => {
    cluster = await ThrowawayCluster.start();
    client = await cluster.connect(options);
    started(client);
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster?.stop();
  });
}

/** A tier guard that never skips: on a cluster, a swallowed CROSSSLOT error would pass for a miss or a fallback, and hide the bug. */
export const transparentGuard = { run: <T>(_fallback: T, call: () => Promise<T>) => call() };

/**
 * A three-master Redis Cluster of the test's own, on free loopback ports, for checking that no
 * multi-key command spans hash slots. Nothing is kept on disk but each node's nodes.conf, in a
 * temporary directory removed by stop().
 */
export class ThrowawayCluster {
  private constructor(
    readonly ports: number[],
    private readonly nodes: ChildProcess[],
    private readonly dir: string,
  ) {}

  static async start(size = 3): Promise<ThrowawayCluster> {
    const dir = await mkdtemp(path.join(tmpdir(), 'redis-cluster-'));
    const ports: number[] = [];
    for (let i = 0; i < size; i++) ports.push(await freePort());
    const nodes = ports.map((port) =>
      spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--dir', dir, '--save', '', '--appendonly', 'no'], {
        stdio: 'ignore',
      }),
    );
    const cluster = new ThrowawayCluster(ports, nodes, dir);
    try {
      await Promise.all(ports.map((port) => waitForPing(port)));
      const create = spawnSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8', timeout: 30_000 });
      if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${create.stdout}${create.stderr}`);
      await Promise.all(ports.map((port) => waitForClusterOk(port)));
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get startupNodes(): Array<{ host: string; port: number }> {
    return this.ports.map((port) => ({ host: '127.0.0.1', port }));
  }

  /**
   * A Cluster client on this cluster, connected as the app connects (with an offline queue, so the
   * first command waits for the slots), and ready: its first command has been answered.
   */
  async connect(options: ClusterOptions = {}): Promise<Cluster> {
    const client = new Cluster(this.startupNodes, { redisOptions: connectionOptions(2000), enableOfflineQueue: true, ...options });
    await client.set('warmup', '1');
    return client;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map((node) => {
        if (node.exitCode !== null || node.signalCode !== null) return Promise.resolve();
        const exited = new Promise((resolve) => node.once('exit', resolve));
        node.kill('SIGKILL');
        return exited;
      }),
    );
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function waitForPing(port: number): Promise<void> {
  await poll(port, async (redis) => (await redis.ping()) === 'PONG');
}

async function waitForClusterOk(port: number): Promise<void> {
  await poll(port, async (redis) => String(await redis.cluster('INFO')).includes('cluster_state:ok'));
}

async function poll(port: number, ready: (redis: Redis) => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    redis.on('error', () => {});
    try {
      await redis.connect();
      if (await ready(redis)) return;
    } catch {
      // not up yet
    } finally {
      redis.disconnect();
    }
    if (Date.now() > deadline) throw new Error(`redis on port ${port} not ready within 15 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
