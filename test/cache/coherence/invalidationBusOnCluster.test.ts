import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisClient } from '../../../src/cache/tiers/redisClient.ts';
import { ThrowawayCluster } from '../../support/throwawayCluster.ts';
import { COMMAND_TIMEOUT_MS, redisInstance, sendProbes, lossReport, silentlyLost, uniqueChannel, waitFor, type Attempt, type Connections, type RedisInstance } from './busFixtures.ts';

/**
 * The bus on a three-master Redis Cluster of the test's own, each test on a fresh one (faults break
 * it). With sharded pub/sub the channel lives on the master that owns its slot; with classic pub/sub
 * each subscriber sits on a random node. Either way an instance whose subscription hangs, dies or
 * moves must stop trusting L2 within the deadline, and no invalidation may be lost without a clear.
 */
const DEADLINE_MS = 2000;
/** Scheduling slack on a loaded two-core runner. */
const SLACK_MS = 3000;

let cluster: ThrowawayCluster | undefined;
const instances: RedisInstance[] = [];

afterEach(async () => {
  await Promise.all(instances.splice(0).map((instance) => instance.close()));
  await cluster?.stop();
  cluster = undefined;
});

/** A subscriber as the app's (sharded or not), and a publisher made by createRedisClient. */
function clusterConnections(on: ThrowawayCluster, sharded: boolean): Connections {
  return {
    subscriber: () => on.connect({ shardedSubscribers: sharded }),
    publisher: () => createRedisClient({ clusterNodes: on.startupNodes, commandTimeoutMs: COMMAND_TIMEOUT_MS }),
  };
}

/** A fresh cluster, and instances on one channel of it, hearing. */
async function startInstances(sharded: boolean, ids: readonly string[]): Promise<{ channel: string; started: RedisInstance[] }> {
  cluster = await ThrowawayCluster.start();
  const channel = uniqueChannel();
  const started: RedisInstance[] = [];
  for (const instanceId of ids) started.push(await addInstance(channel, sharded, instanceId));
  return { channel, started };
}

async function addInstance(channel: string, sharded: boolean, instanceId: string): Promise<RedisInstance> {
  const instance = await redisInstance(clusterConnections(cluster!, sharded), { channel, instanceId });
  instances.push(instance);
  expect(await instance.bus.waitUntilHearing(5000)).toBe(true);
  return instance;
}

/** A plain connection to one node of the cluster, for admin commands. */
async function node(port: number): Promise<Redis> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => {});
  await redis.connect();
  return redis;
}

async function pidOf(port: number): Promise<number> {
  const redis = await node(port);
  try {
    return Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1]);
  } finally {
    redis.disconnect();
  }
}

async function nodeIdOf(port: number): Promise<string> {
  const redis = await node(port);
  try {
    return String(await redis.call('CLUSTER', 'MYID'));
  } finally {
    redis.disconnect();
  }
}

/** The port of the master that owns the channel's slot (where sharded pub/sub keeps it). */
async function ownerOf(channel: string, ports: readonly number[]): Promise<number> {
  const redis = await node(ports[0]!);
  try {
    const slot = calculateSlot(channel);
    const ranges = (await redis.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number, ...unknown[]]]>;
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    return range![2][1];
  } finally {
    redis.disconnect();
  }
}

/** How many connections of each node are subscribed, classic (SUBSCRIBE) or sharded (SSUBSCRIBE). */
async function subscribersOn(port: number, kind: 'sub' | 'ssub'): Promise<number> {
  const redis = await node(port);
  try {
    const clients = String(await redis.call('CLIENT', 'LIST'));
    return clients.split('\n').filter((line) => new RegExp(` ${kind}=[1-9]`).test(line)).length;
  } finally {
    redis.disconnect();
  }
}

/** The ports of the nodes that have a classic subscriber connected. */
async function nodesWithSubscribers(ports: readonly number[]): Promise<number[]> {
  const found: number[] = [];
  for (const port of ports) if ((await subscribersOn(port, 'sub')) > 0) found.push(port);
  return found;
}

/** Moves an empty slot to another master, as a resharding does (no keys live in a channel's slot here). */
async function moveSlot(slot: number, from: number, to: number, ports: readonly number[]): Promise<void> {
  const [fromId, toId] = [await nodeIdOf(from), await nodeIdOf(to)];
  const target = await node(to);
  const source = await node(from);
  await target.call('CLUSTER', 'SETSLOT', slot, 'IMPORTING', fromId);
  await source.call('CLUSTER', 'SETSLOT', slot, 'MIGRATING', toId);
  await target.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  await source.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
  target.disconnect();
  source.disconnect();
  for (const port of ports.filter((p) => p !== from && p !== to)) {
    const other = await node(port);
    await other.call('CLUSTER', 'SETSLOT', slot, 'NODE', toId);
    other.disconnect();
  }
}

/** `from` sends 1000 invalidations, ten at a time; resolves once `to` has them all or 5 s pass. */
async function burstOfProbes(from: RedisInstance, to: RedisInstance): Promise<Attempt[]> {
  const attempts: Attempt[] = [];
  for (let batch = 0; batch < 100; batch++) {
    const tags = Array.from({ length: 10 }, (_, i) => `Probe:${batch * 10 + i}`);
    const at = performance.now();
    attempts.push(...(await Promise.all(tags.map(async (tag) => ({ tag, at, sent: await from.bus.publish([tag]) })))));
  }
  expect(attempts.every((attempt) => attempt.sent)).toBe(true);
  await waitFor(() => to.owner.of('invalidation').length >= attempts.length, 5000);
  return attempts;
}

/** How long after `since` each instance was last told `kind`, printed for the record. */
function measure(label: string, since: number, instances: readonly RedisInstance[], kind: 'deaf' | 'hearing'): number[] {
  const elapsed = instances.map(({ owner }) => Math.round(owner.of(kind).at(-1)!.at - since));
  console.log(`[measured] ${label}: ${elapsed.map((ms) => `${ms} ms`).join(', ')}`);
  return elapsed;
}

describe('InvalidationBus on Redis Cluster, sharded pub/sub', () => {
  it('carries invalidations between instances, with no clear', async () => {
    const {
      started: [a, b],
    } = await startInstances(true, ['a', 'b']);
    expect(await b!.bus.publish(['Product:1'], ['3'])).toBe(true);
    expect(await waitFor(() => a!.owner.of('invalidation').length === 1, 2000)).toBe(true);
    expect(a!.owner.of('invalidation')[0]).toMatchObject({ tags: ['Product:1'], generations: ['3'] });
    expect(a!.owner.clears() + b!.owner.clears()).toBe(0);
  });

  it('keeps each instance’s messages in order under load: no clear at all', async () => {
    const {
      started: [a, b],
    } = await startInstances(true, ['a', 'b']);
    const attempts = await burstOfProbes(b!, a!);
    console.log(`[measured] cluster (sharded) burst: ${attempts.length} invalidations, ${a!.owner.clears()} clears`);
    expect(a!.owner.of('invalidation')).toHaveLength(attempts.length);
    expect(a!.owner.clears()).toBe(0);
  });

  it('SIGSTOP of the master that owns the channel: deaf within the deadline, hearing after SIGCONT, nothing lost silently', async () => {
    const { channel, started } = await startInstances(true, ['a', 'b']);
    const [a, b] = started as [RedisInstance, RedisInstance];
    const pid = await pidOf(await ownerOf(channel, cluster!.ports));
    const probes = sendProbes(b.bus, 100);
    const stoppedAt = performance.now();
    process.kill(pid, 'SIGSTOP');
    try {
      expect(await waitFor(() => !a.bus.hearing && !b.bus.hearing, DEADLINE_MS + SLACK_MS)).toBe(true);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const resumedAt = performance.now();
    for (const elapsed of measure('cluster (sharded) SIGSTOP of the channel’s master -> onDeaf', stoppedAt, started, 'deaf')) {
      expect(elapsed).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS);
    }
    expect(await waitFor(() => a.bus.hearing && b.bus.hearing, 5000)).toBe(true);
    measure('cluster (sharded) SIGCONT -> onHearing', resumedAt, started, 'hearing');
    const attempts = await probes.stop();
    expect(await silentlyLost(attempts, a)).toEqual([]);
  });

  it('the master that owns the channel is killed: deaf within the deadline, and stays deaf (no replica takes over)', async () => {
    const { channel, started } = await startInstances(true, ['a', 'b']);
    const pid = await pidOf(await ownerOf(channel, cluster!.ports));
    const killedAt = performance.now();
    process.kill(pid, 'SIGKILL');
    expect(await waitFor(() => started.every(({ bus }) => !bus.hearing), DEADLINE_MS + SLACK_MS)).toBe(true);
    for (const elapsed of measure('cluster (sharded) SIGKILL of the channel’s master -> onDeaf', killedAt, started, 'deaf')) {
      expect(elapsed).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS);
    }
    console.log(`[measured] reasons: ${started.map(({ owner }) => owner.of('deaf')[0]!.reason).join(' | ')}`);
    expect(await started[0]!.bus.waitUntilHearing(DEADLINE_MS)).toBe(false);
  });

  it('the channel’s slot moves to another master: the subscription follows, and nothing is lost silently', async () => {
    const { channel, started } = await startInstances(true, ['a', 'b']);
    const [a, b] = started as [RedisInstance, RedisInstance];
    const from = await ownerOf(channel, cluster!.ports);
    const to = cluster!.ports.find((port) => port !== from)!;
    const probes = sendProbes(b.bus, 20);
    const movedAt = performance.now();
    await moveSlot(calculateSlot(channel), from, to, cluster!.ports);
    expect(await ownerOf(channel, cluster!.ports)).toBe(to);
    // Both subscriptions follow the slot (Redis unsubscribes them, ioredis resubscribes on the new owner).
    const followed = await waitFor(async () => (await subscribersOn(to, 'ssub')) === 2 && (await subscribersOn(from, 'ssub')) === 0, 10_000);
    const followedAfter = Math.round(performance.now() - movedAt);
    expect(followed).toBe(true);
    const receivedAfter = (ms: number) => a.owner.of('invalidation').some((event) => event.at > movedAt + ms);
    expect(await waitFor(() => a.bus.hearing && b.bus.hearing && receivedAfter(followedAfter + 500), 5000)).toBe(true);
    const attempts = await probes.stop();
    const lost = await silentlyLost(attempts, a);
    console.log(`[measured] slot move: subscriptions on the new owner after ${followedAfter} ms; ${lossReport(attempts, a.owner, movedAt)}`);
    expect(lost).toEqual([]);
  });
});

describe('InvalidationBus on Redis Cluster, classic pub/sub', () => {
  it('each PUBLISH goes to a random node, so messages overtake each other under load: clears, never a silent loss', async () => {
    const {
      started: [a, b],
    } = await startInstances(false, ['a', 'b']);
    const attempts = await burstOfProbes(b!, a!);
    console.log(`[measured] cluster (classic) burst: ${attempts.length} invalidations, ${a!.owner.clears()} clears`);
    expect(await silentlyLost(attempts, a!)).toEqual([]);
  });

  /** Instance a (its subscriber the only one, so the node that has one is a's), then b, which publishes. */
  async function subscriberAndPublisher() {
    const {
      channel,
      started: [a],
    } = await startInstances(false, ['a']);
    const [subscriberNode] = await nodesWithSubscribers(cluster!.ports);
    return { a, b: await addInstance(channel, false, 'b'), subscriberNode };
  }

  it('SIGSTOP of the node the subscriber sits on: deaf within the deadline, hearing after SIGCONT, nothing lost silently', async () => {
    const { a, b, subscriberNode } = await subscriberAndPublisher();
    const pid = await pidOf(subscriberNode!);
    const probes = sendProbes(b.bus, 100);
    const stoppedAt = performance.now();
    process.kill(pid, 'SIGSTOP');
    try {
      expect(await waitFor(() => !a!.bus.hearing, DEADLINE_MS + SLACK_MS)).toBe(true);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const resumedAt = performance.now();
    const [elapsed] = measure('cluster (classic) SIGSTOP of the subscriber’s node -> onDeaf', stoppedAt, [a!], 'deaf');
    expect(elapsed).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS);
    expect(await waitFor(() => a!.bus.hearing, 5000)).toBe(true);
    measure('cluster (classic) SIGCONT -> onHearing', resumedAt, [a!], 'hearing');
    expect(await silentlyLost(await probes.stop(), a!)).toEqual([]);
  });

  it('the node the subscriber sits on is killed: the client moves the subscription silently, and no invalidation is lost without a clear', async () => {
    const { a, b, subscriberNode } = await subscriberAndPublisher();
    const probes = sendProbes(b.bus, 20);
    const killedAt = performance.now();
    process.kill(await pidOf(subscriberNode!), 'SIGKILL');
    const receivedAfter = (ms: number) => a!.owner.of('invalidation').some((event) => event.at > killedAt + ms);
    expect(await waitFor(() => a!.bus.hearing && receivedAfter(DEADLINE_MS + 500), 10_000)).toBe(true);
    const attempts = await probes.stop();
    const lost = await silentlyLost(attempts, a!);
    console.log(`[measured] cluster (classic) SIGKILL of the subscriber’s node: ${lossReport(attempts, a!.owner, killedAt)}`);
    expect(await nodesWithSubscribers(cluster!.ports.filter((port) => port !== subscriberNode))).not.toEqual([]);
    expect(lost).toEqual([]);
  });
});
