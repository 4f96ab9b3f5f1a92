import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ThrowawayRedis } from '../../support/throwawayRedis.ts';
import { COMMAND_TIMEOUT_MS, connectTo, redisInstance, sendProbes, silentlyLost, uniqueChannel, waitFor, type RedisInstance } from './busFixtures.ts';

/**
 * Two instances on a Redis of the test's own that hangs (SIGSTOP: the sockets stay open, nothing
 * answers, nothing is delivered) or dies. The production defaults: a heartbeat every 500 ms, deaf
 * after 2000 ms without an own message. Each measured time is printed for the record.
 */
const DEADLINE_MS = 2000;
/** Scheduling slack on a loaded two-core runner; the bus itself has none beyond a setImmediate. */
const SLACK_MS = 3000;

let redis: ThrowawayRedis;
let a: RedisInstance;
let b: RedisInstance;

beforeEach(async () => {
  redis = await ThrowawayRedis.start();
  const channel = uniqueChannel();
  a = await redisInstance(connectTo(redis.url), { channel, instanceId: 'a' });
  b = await redisInstance(connectTo(redis.url), { channel, instanceId: 'b' });
  expect(await Promise.all([a.bus.waitUntilHearing(3000), b.bus.waitUntilHearing(3000)])).toEqual([true, true]);
});
afterEach(async () => {
  redis?.resume();
  await Promise.all([a?.close(), b?.close()]);
  await redis?.kill();
});

describe('InvalidationBus when Redis hangs or dies', () => {
  it('SIGSTOP: both instances are deaf within the deadline, hear again after SIGCONT, and lose nothing silently', async () => {
    const probes = sendProbes(b.bus, 100);
    const stoppedAt = performance.now();
    redis.pause();
    expect(await waitFor(() => !a.bus.hearing && !b.bus.hearing, DEADLINE_MS + SLACK_MS)).toBe(true);
    const deafAfter = [a, b].map(({ owner }) => Math.round(owner.of('deaf')[0]!.at - stoppedAt));
    console.log(`[measured] SIGSTOP -> onDeaf: a ${deafAfter[0]} ms, b ${deafAfter[1]} ms (deadline ${DEADLINE_MS} ms)`);
    for (const elapsed of deafAfter) expect(elapsed).toBeLessThanOrEqual(DEADLINE_MS + SLACK_MS);
    // Before the deadline nothing proves a loss yet: a heartbeat is 500 ms apart, the deadline four of them.
    for (const elapsed of deafAfter) expect(elapsed).toBeGreaterThan(DEADLINE_MS - 500 - 100);

    const resumedAt = performance.now();
    redis.resume();
    expect(await waitFor(() => a.bus.hearing && b.bus.hearing, 5000)).toBe(true);
    const hearingAfter = [a, b].map(({ owner }) => Math.round(owner.of('hearing').at(-1)!.at - resumedAt));
    console.log(`[measured] SIGCONT -> onHearing: a ${hearingAfter[0]} ms, b ${hearingAfter[1]} ms`);

    const attempts = await probes.stop();
    // Probes b sent while Redis hung were refused within the bound; once it is back, they reach a.
    expect(attempts.filter((attempt) => !attempt.sent).length).toBeGreaterThan(0);
    expect(await waitFor(() => a.owner.of('invalidation').length > 0, 2000)).toBe(true);
    expect(await silentlyLost(attempts, a)).toEqual([]);
  });

  it('a publish while Redis hangs resolves false within commandTimeoutMs, not the client’s 5 s backstop', async () => {
    redis.pause();
    const started = performance.now();
    const sent = await a.bus.publish(['Product:1']);
    const elapsed = Math.round(performance.now() - started);
    console.log(`[measured] publish while Redis hangs: ${String(sent)} after ${elapsed} ms (commandTimeoutMs ${COMMAND_TIMEOUT_MS})`);
    expect(sent).toBe(false);
    expect(elapsed).toBeLessThan(1500);
    expect(elapsed).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 5);
  });

  it('killed: deaf at once (the socket closes), and hearing again once Redis is back', async () => {
    const killedAt = performance.now();
    await redis.kill();
    expect(await waitFor(() => !a.bus.hearing && !b.bus.hearing, 1000)).toBe(true);
    const deafAfter = [a, b].map(({ owner }) => Math.round(owner.of('deaf')[0]!.at - killedAt));
    console.log(`[measured] SIGKILL -> onDeaf: a ${deafAfter[0]} ms, b ${deafAfter[1]} ms`);
    expect(a.owner.of('deaf')[0]?.reason).toBe('subscriber connection closed');

    await redis.restart();
    const restartedAt = performance.now();
    // The client reconnects with a backoff of up to 2 s, resubscribes, then a heartbeat comes back.
    expect(await waitFor(() => a.bus.hearing && b.bus.hearing, 6000)).toBe(true);
    console.log(`[measured] restart -> onHearing: ${Math.round(Math.max(...[a, b].map(({ owner }) => owner.of('hearing').at(-1)!.at)) - restartedAt)} ms`);
    expect(await b.bus.publish(['Product:1'])).toBe(true);
    expect(await waitFor(() => a.owner.of('invalidation').length === 1, 2000)).toBe(true);
  });
});
