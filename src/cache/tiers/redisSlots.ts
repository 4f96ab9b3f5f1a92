import calculateSlot from 'cluster-key-slot';

/**
 * Splits keys into groups that one multi-key command (MGET, MULTI) may carry: all of them on a
 * single Redis, one group per hash slot on a Cluster, where no such command spans slots. Pure.
 */
export function groupBySlot(keys: readonly string[], redis: { isCluster: boolean }): string[][] {
  if (!redis.isCluster) return [[...keys]];
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const group = bySlot.get(slot);
    if (group) group.push(key);
    else bySlot.set(slot, [key]);
  }
  return [...bySlot.values()];
}

/** The values of `keys`, in their order: one `mget` per group of {@link groupBySlot}, all at once. */
export async function mgetBySlot<T>(keys: readonly string[], redis: { isCluster: boolean }, mget: (group: string[]) => Promise<(T | null)[]>): Promise<(T | null)[]> {
  const groups = groupBySlot(keys, redis);
  if (groups.length === 1) return mget(groups[0] as string[]);
  const replies = await Promise.all(groups.map(mget));
  const byKey = new Map<string, T | null>();
  groups.forEach((group, g) => group.forEach((key, i) => byKey.set(key, replies[g]?.[i] ?? null)));
  return keys.map((key) => byKey.get(key) ?? null);
}
