import type { IncomingMessage } from 'node:http';
import type { Viewer } from '../../auth/viewer.ts';
import type { RateLimitOptions } from '../../config/rateLimitOptions.ts';
import { clientAddress } from './clientAddress.ts';
import { policyHeader, rateLimitHeaders, type NamedPolicy, type RateLimitHeaders } from './rateLimitHeaders.ts';
import type { WindowCounter } from './windowCounter.ts';

/** What the HTTP handler does with a request, and the headers it sets whatever it does. */
export type RateLimitVerdict =
  | { readonly kind: 'allowed'; readonly headers: Partial<RateLimitHeaders> }
  /** 429: over the limit; the headers say when to retry. */
  | { readonly kind: 'refused'; readonly headers: RateLimitHeaders; readonly message: string }
  /** 503: the count could not be made, and RATE_LIMIT_WHEN_REDIS_DOWN is `closed`. */
  | { readonly kind: 'unavailable'; readonly headers: { readonly 'retry-after': string }; readonly message: string };

export interface RateLimiterOptions {
  counter: WindowCounter;
  /** Prefix of every key (CACHE_PREFIX). */
  prefix: string;
  /** Everything but `enabled`, each documented on {@link RateLimitOptions}. */
  limits: Omit<RateLimitOptions, 'enabled'>;
  /** Seconds a 503 asks the client to wait: the guard's skip window, after which Redis is probed again. */
  unavailableRetryAfterSeconds: number;
}

/**
 * Counts each request against its viewer's limit (by user id) or, anonymous, its address's (see
 * clientAddress.ts), in a sliding window ({@link WindowCounter}), and says what to answer. Keys are
 * `<prefix>{rl:user:<id>}` and `<prefix>{rl:ip:<address>}`: the braces are a Redis Cluster hash
 * tag, so each key's slot is that of its whole name.
 */
export class RateLimiter {
  private readonly user: NamedPolicy;
  private readonly anonymous: NamedPolicy;
  private readonly userPolicyValue: string;
  private readonly anonymousPolicyValue: string;

  constructor(private readonly options: RateLimiterOptions) {
    const windowMs = options.limits.windowSeconds * 1000;
    this.user = { name: 'user', limit: options.limits.userRequests, windowMs };
    this.anonymous = { name: 'ip', limit: options.limits.anonymousRequests, windowMs };
    this.userPolicyValue = policyHeader(this.user);
    this.anonymousPolicyValue = policyHeader(this.anonymous);
  }

  async check(req: IncomingMessage, viewer: Viewer): Promise<RateLimitVerdict> {
    const signedIn = viewer.userId !== null;
    const policy = signedIn ? this.user : this.anonymous;
    const subject = signedIn ? `user:${viewer.userId}` : `ip:${clientAddress(req.socket.remoteAddress, req.headers['x-forwarded-for'], this.options.limits.trustedProxyHops)}`;
    const decision = await this.options.counter.count(`${this.options.prefix}{rl:${subject}}`, policy);

    if (decision === undefined) {
      // Not counted: no RateLimit header, since there is nothing true to say.
      if (this.options.limits.whenRedisDown === 'open') return ALLOWED_UNCOUNTED;
      return {
        kind: 'unavailable',
        headers: { 'retry-after': String(this.options.unavailableRetryAfterSeconds) },
        message: 'The rate limiter cannot count requests right now, and refuses them until it can (RATE_LIMIT_WHEN_REDIS_DOWN=closed); retry shortly.',
      };
    }
    const headers = rateLimitHeaders(policy, signedIn ? this.userPolicyValue : this.anonymousPolicyValue, decision);
    if (decision.allowed) return { kind: 'allowed', headers };
    return {
      kind: 'refused',
      headers,
      message: `Rate limit of ${policy.limit} requests per ${this.options.limits.windowSeconds} s exceeded (${signedIn ? 'for this viewer' : 'for this address'}); retry after ${headers['retry-after']} s.`,
    };
  }
}

// Private:

const ALLOWED_UNCOUNTED: RateLimitVerdict = { kind: 'allowed', headers: {} };
