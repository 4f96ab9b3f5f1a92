import { setTimeout as sleep } from 'node:timers/promises';
import type { CachedKind } from '../entry.ts';
import { freshnessOf } from '../freshness/freshness.ts';
import type { Lease, Leases } from '../stampede/leases.ts';
import type { CacheTier } from '../tiers/tier.ts';
import type { LoadAndFill } from './loadAndFill.ts';
import { fillTiers, tierRead, tierWrite, type Fences, type Load, type ReadItem, type Tiers } from './readItem.ts';
import type { ReadObserver } from './readObserver.ts';

export interface FleetLeaseOptions {
  readonly leases: Leases;
  readonly tiers: Tiers & { readonly shared: CacheTier };
  readonly fill: LoadAndFill;
  /** How long a miss waits for another instance's fill before it loads itself, ms. */
  readonly leaseWaitMs: number;
  readonly now: () => number;
  readonly elapsed: () => number;
  /** Told how each wait for another instance's lease ended. */
  readonly observer?: ReadObserver;
}

/**
 * Loads what this process is the first to miss, once across the fleet. Each round takes a lease on
 * every key nobody holds and then reads the shared tier: a holder releases its lease only after its
 * fill, so whatever a key's lease lets us do, the read that follows it sees any fill made before.
 * Keys found are served; keys leased and not found are loaded here; keys another instance holds
 * are looked at again after a short, growing sleep. A key whose holder died is leased here once its
 * lease expires; whatever is still waiting after `leaseWaitMs` is loaded regardless.
 *
 * A load started in one round runs while later rounds sleep, so its failure is caught at once and
 * rethrown at the end: a rejection nobody awaits yet would take the process down.
 */
export async function loadOnceAcrossFleet<R, V>(options: FleetLeaseOptions, kind: CachedKind<V>, items: readonly ReadItem<R, V>[], load: Load<R, V>, fences: Fences): Promise<void> {
  const { leases, tiers, fill } = options;
  const loads: Promise<void>[] = [];
  let failure: { error: unknown } | undefined;
  const watch = (running: Promise<void>) =>
    loads.push(
      running.catch((error: unknown) => {
        failure ??= { error };
      }),
    );
  const latest: Fences = { ...fences };
  const deadline = options.elapsed() + options.leaseWaitMs;
  let waiting = [...items];
  for (let delayMs = 5, round = 0; ; delayMs = Math.min(delayMs * 2, 50), round++) {
    const granted = await leases.acquire(waiting.map((item) => item.key));
    const lookup = await tiers.shared.getMany(waiting.map(tierRead), kind);
    latest.shared = lookup.fence;
    const now = options.now();
    const copies = [];
    const leased: ReadItem<R, V>[] = [];
    const mine: Lease[] = [];
    // Leases on keys that turned out to be filled are not needed.
    const unneeded: Lease[] = [];
    const stillWaiting: ReadItem<R, V>[] = [];
    for (const [j, item] of waiting.entries()) {
      const entry = lookup.entries[j];
      const lease = granted[j];
      if (entry !== undefined && freshnessOf(entry, now, 1, { beta: 0 }) !== 'expired') {
        item.answer = { value: entry.value };
        copies.push(tierWrite(item, entry, now));
        if (lease) unneeded.push(lease);
      } else if (lease) {
        leased.push(item);
        mine.push(lease);
      } else stillWaiting.push(item);
    }
    await Promise.all([leases.release(unneeded), fillTiers({ ...(tiers.local ? { local: tiers.local } : {}) }, copies, latest)]);
    // From the second round on, every key looked at had been waiting for another instance's lease.
    if (round > 0) countWaits(options.observer, { filled: copies.length, holderDied: leased.length });
    if (leased.length > 0) watch(fill.run(kind, leased, load, { ...latest }, 'miss').finally(() => leases.release(mine)));
    waiting = stillWaiting;
    if (waiting.length === 0 || failure) break;
    if (options.elapsed() >= deadline) {
      options.observer?.leaseWaited('timed_out', waiting.length);
      watch(fill.run(kind, waiting, load, { ...latest }, 'wait-timeout'));
      break;
    }
    await sleep(delayMs);
  }
  await Promise.all(loads);
  if (failure) throw failure.error;
}

// Private:

function countWaits(observer: ReadObserver | undefined, ended: { filled: number; holderDied: number }): void {
  if (ended.filled > 0) observer?.leaseWaited('filled', ended.filled);
  if (ended.holderDied > 0) observer?.leaseWaited('holder_died', ended.holderDied);
}
