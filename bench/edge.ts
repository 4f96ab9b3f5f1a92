// The edge of a request: what the layers in front of the response tier cost a warm hit (see
// sideBySide.ts). A new edge feature adds its own entry to VARIANTS.
import type { Section } from './section.ts';
import { sideBySideSection, type Variant } from './sideBySide.ts';

/**
 * The rate limiter counts every request of the load, which all come from one address: its limit
 * must be out of reach, and its window short, so that the key's log holds about one second of
 * requests, as a busy client's would: in leases of 1,000 permits, most decided in the process.
 */
const RATE_LIMIT_ON = { RATE_LIMIT: 'on', RATE_LIMIT_ANONYMOUS_REQUESTS: '1000000', RATE_LIMIT_WINDOW_SECONDS: '1' };
/** A page on another site, allowed by CORS_ORIGINS: every request of its load carries its Origin. */
const SHOP = 'https://shop.example';
const CORS_ON = { env: { CORS_ORIGINS: SHOP }, headers: { origin: SHOP } };
const VARIANTS: readonly Variant[] = [
  { name: 'edge off', env: { RATE_LIMIT: 'off' } },
  { name: 'CORS on', env: { RATE_LIMIT: 'off', ...CORS_ON.env }, headers: CORS_ON.headers },
  { name: 'rate limit on', env: RATE_LIMIT_ON },
  { name: 'both on', env: { ...RATE_LIMIT_ON, ...CORS_ON.env }, headers: CORS_ON.headers },
];

export const edgeSection: Section = sideBySideSection({
  name: 'edge',
  title: 'Edge: a warm response-tier hit with CORS and the rate limiter off and on',
  variants: VARIANTS,
  target: 'the target for the edge (CORS, rate limit) is a cost under 5%',
});
