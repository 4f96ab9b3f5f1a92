/** One server setup under test: its label in the report and the CACHE_TIERS it starts with. */
export interface Configuration {
  name: string;
  /** Passed verbatim as CACHE_TIERS; '' means no tiers (DataLoader batching still happens). */
  cacheTiers: string;
}

/**
 * The read-path configurations, measured in this order. The first is the baseline: the ratio column
 * and the correctness check both compare against it.
 */
export const CONFIGURATIONS: readonly Configuration[] = [
  { name: 'caching off', cacheTiers: '' },
  { name: 'L1 only', cacheTiers: 'l1' },
  { name: 'L1+L2', cacheTiers: 'l1,l2' },
  { name: 'L1+L2+L3 (L2 off, L3 serves)', cacheTiers: 'l1,l3' },
];

/** What GET /health/ready must report for a CACHE_TIERS value, so a tier that failed to come up cannot pass as measured. */
export function expectedTierStates(cacheTiers: string): Record<'L2' | 'L3', 'up' | 'off'> {
  const tiers = cacheTiers.split(',').map((t) => t.trim());
  return { L2: tiers.includes('l2') ? 'up' : 'off', L3: tiers.includes('l3') ? 'up' : 'off' };
}
