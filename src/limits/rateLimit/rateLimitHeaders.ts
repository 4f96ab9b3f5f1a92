import type { WindowDecision, WindowPolicy } from './slidingWindow.ts';

/**
 * The response headers of a rate-limited request, as draft-ietf-httpapi-ratelimit-headers-11 (May
 * 2026) writes them: two Structured Field Lists (RFC 9651),
 *
 *     RateLimit-Policy: "user";q=600;w=60     the quota (q) per window (w, seconds), constant
 *     RateLimit: "user";r=0;t=12              what is left (r) and within how long (t, seconds)
 *
 * and, on a refusal, `Retry-After` (RFC 9110), never earlier than the end of `t` (draft section 6).
 * Earlier drafts (up to -06) used RateLimit-Limit / -Remaining / -Reset instead; clients of those
 * see nothing here. No partition key (`pk`): ours is a user id or an address, which the draft says
 * not to expose.
 */
export interface RateLimitHeaders {
  readonly 'ratelimit-policy': string;
  readonly ratelimit: string;
  readonly 'retry-after'?: string;
}

/** A {@link WindowPolicy} with the name its headers carry: an sf-string without quotes or backslashes. */
export interface NamedPolicy extends WindowPolicy {
  readonly name: string;
}

/** `RateLimit-Policy`'s value, the same for every response of the policy: compute it once. */
export function policyHeader(policy: NamedPolicy): string {
  if (!/^[\x20-\x7e]*$/.test(policy.name) || /["\\]/.test(policy.name)) throw new TypeError(`rate limit policy name ${JSON.stringify(policy.name)} is not a plain sf-string`);
  return `"${policy.name}";q=${policy.limit};w=${Math.ceil(policy.windowMs / 1000)}`;
}

/**
 * The headers of one decision. `t` is the seconds until the oldest counted request leaves the
 * window (rounded up, so a client that waits `t` finds room): within it, no more than `r` requests
 * are admitted. A refusal's `Retry-After` is the same `t`, at least 1.
 */
export function rateLimitHeaders(policy: NamedPolicy, policyValue: string, decision: WindowDecision): RateLimitHeaders {
  const t = Math.max(0, Math.ceil(decision.resetMs / 1000));
  const ratelimit = `"${policy.name}";r=${Math.max(0, decision.remaining)};t=${t}`;
  if (decision.allowed) return { 'ratelimit-policy': policyValue, ratelimit };
  return { 'ratelimit-policy': policyValue, ratelimit, 'retry-after': String(Math.max(1, t)) };
}
