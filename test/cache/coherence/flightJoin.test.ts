import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { CacheKeys } from '../../../src/cache/keys.ts';
import { createCacheStack, type CacheStack } from '../../../src/cache/stack.ts';
import { loadConfig } from '../../../src/config/config.ts';
import type { CategoryRecord } from '../../../src/catalog/records.ts';
import { redisUrl } from '../../support/services.ts';
import { deletePrefix, uniquePrefix } from '../../support/testApp.ts';
import { categoryKind as kind } from '../../support/testKinds.ts';

/**
 * Hole 2 of "Coherence under faults": a request that begins after a write must never take its value
 * from a load that began before the write's invalidation, because that load may return the old row
 * and the request would then serve it (read-your-writes broken) and store a response built from it
 * under a fence taken after the invalidation. Real L2 and L3 (Redis), the stack as the app builds
 * it; the database is a variable the test sets, and the interleaving is held open by gates.
 */
const prefix = uniquePrefix();
const logger = pino({ level: 'silent' });
const stacks: CacheStack[] = [];
afterAll(async () => {
  await Promise.all(stacks.map((stack) => stack.close()));
  await deletePrefix(prefix);
});

const v1: CategoryRecord = { id: 7, name: 'before the write', slug: 'c7' };
const v2: CategoryRecord = { id: 7, name: 'after the write', slug: 'c7' };

async function setup(name: string, env: Record<string, string> = {}) {
  const config = loadConfig({ REDIS_URL: redisUrl, CACHE_PREFIX: `${prefix}${name}:`, CACHE_LEASE_WAIT_MS: '200', ...env });
  const keys = new CacheKeys(config.cachePrefix);
  const stack = await createCacheStack({ config, keys, tagLifetimeMs: () => 120_000, instanceId: `test-${name}`, logger });
  stacks.push(stack);
  const item = { item: 7, key: keys.entity(kind, 7), tags: ['Category:7', 'Category'] };
  /** What each tier holds for the item now. */
  const held = async () => ({
    local: (await stack.local!.getMany([item], kind)).entries[0]?.value,
    shared: (await stack.shared!.getMany([item], kind)).entries[0]?.value,
  });
  return { stack, item, held };
}

function gate() {
  let open!: () => void;
  let entered!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const reached = new Promise<void>((resolve) => (entered = resolve));
  return { open, entered, opened, reached };
}

describe('a flight that began before an invalidation', () => {
  it('is not joined by a miss that begins after it: the writer reads its own write, and nothing stores the old row', async () => {
    const { stack, item, held } = await setup('miss');
    let database = v1;
    const slow = gate();
    // P misses and starts a load that reads v1, then is held open.
    const p = stack.readThrough.getMany(kind, [item], async () => {
      const row = database;
      slow.entered();
      await slow.opened;
      return [row];
    });
    await slow.reached;
    // The write commits v2 and invalidates, and answers.
    database = v2;
    await stack.invalidator.invalidate(['Category:7']);
    // Q begins after the write was answered: the response tier takes its ticket now.
    const ticket = stack.lateFills.ticket();
    const q = stack.readThrough.getMany(kind, [item], async () => [database]);
    slow.open();
    expect(await q).toEqual([v2]);
    // P's own request may still see the row it read before the write; nothing keeps it.
    expect(await p).toEqual([v1]);
    expect(await held()).toEqual({ local: v2, shared: v2 });
    // A response built from what Q served, stored as the response tier stores it, under Q's ticket.
    const response = { key: `${prefix}miss:response`, tags: item.tags };
    const now = Date.now();
    const entry = { value: (await q)[0]!, expiresAt: now + 60_000, staleUntil: now + 60_000, computeMs: 0, version: 0 };
    await stack.lateFills.store([{ ...response, entry, bytes: Buffer.from('x'), ttlMs: 60_000 }], ticket);
    expect((await stack.local!.getMany([response], kind)).entries[0]?.value).toEqual(v2);
  });
});
