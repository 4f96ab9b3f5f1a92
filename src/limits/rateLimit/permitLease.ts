import type { WindowDecision, WindowPolicy } from './slidingWindow.ts';

/**
 * Permit leases: the sliding-window log of slidingWindow.ts, shared in Redis, where an instance
 * takes `k` permits at a time instead of one, so that most requests are decided in the process.
 *
 * A lease is one entry of the key's log, weighted by its permit count and scored at the latest time
 * any of its permits may be used: `grantedAt + leaseMs`. An entry counts until its score is a window
 * old. So a request admitted at t from a lease granted at g ≤ t is counted from g until
 * `g + leaseMs + windowMs ≥ t + windowMs`: every request of any window is in the log at that
 * window's end, and since a grant never takes the log's total above the limit, no window admits
 * more than the limit, whatever the instances do and however many there are.
 *
 * Unused permits are given back when their lease ends (the entry keeps the permits used); an
 * instance that dies keeps its lease counted until the entry leaves the window, which never
 * over-admits. {@link grantLease} is the rule, pure; {@link LEASE_SCRIPT} is the same rule in Redis.
 */

/** Permits of a lease when the key is far from its limit: a hot key then costs one call per this many requests. */
export const MAX_LEASE = 1000;
/** A lease takes at most this fraction of the room left, so that the instances that share a key share its room. */
export const LEASE_SHARE = 8;
/** A lease is used at most this long; then its unused permits go back. */
export const MAX_LEASE_MS = 250;

/**
 * How long a lease of `policy` is used: short enough that an instance's unused permits come back
 * soon (they are counted, for everyone, until then), and at most a tenth of the window, which the
 * lease stretches (a key frees room `leaseMs` later than the plain log would).
 */
export function leaseDurationMs(policy: WindowPolicy): number {
  return Math.min(MAX_LEASE_MS, Math.floor(policy.windowMs / 10));
}

/**
 * Permits granted for `wanted` waiting requests when `counted` are counted: at least the waiting
 * ones, and an eighth of the room left (at most {@link MAX_LEASE}) for the requests still to come;
 * never more than the room. Near the limit that is 1 per request, as the plain log; far from it, a
 * hot key asks Redis once per up to a thousand requests. Nothing when nothing is wanted (a call
 * that only gives permits back).
 */
export function leaseSize(policy: WindowPolicy, counted: number, wanted: number): number {
  const room = Math.max(0, policy.limit - counted);
  if (wanted === 0) return 0;
  return Math.min(room, Math.max(wanted, Math.min(MAX_LEASE, Math.max(1, Math.floor(room / LEASE_SHARE)))));
}

/** One lease in a key's log: its score (the last time it may be used) and the permits it counts. */
export interface LeaseEntry {
  score: number;
  permits: number;
}

/** A key's log: its leases by id. The script keeps the same in a sorted set and a hash. */
export type LeaseLog = Map<string, LeaseEntry>;

/** What an instance asks for one key in one call. */
export interface LeaseRequest {
  /** The id of the lease to create (unique across the fleet). */
  readonly leaseId: string;
  /** Requests waiting for permits; 0 to only give permits back. */
  readonly wanted: number;
  /** Ended leases of this instance, each with how many of its permits were used: the rest go back. */
  readonly returns: readonly LeaseReturn[];
}

export interface LeaseReturn {
  readonly leaseId: string;
  readonly used: number;
}

/** What the script replied for one key. */
export interface LeaseGrant {
  /** Permits counted before this grant (after the returns and the expired leases were taken out). */
  readonly before: number;
  /** Permits of the new lease; fewer than wanted only when the key is full. */
  readonly granted: number;
  /** Milliseconds until the oldest lease leaves the window (0 when the log is empty). */
  readonly resetMs: number;
}

/**
 * {@link LEASE_SCRIPT}'s rule on `log` at `now` (updated in place). Pure but for `log`. Returns take
 * a lease down to what it used (at most: a return is idempotent, and a return to a lease that has
 * left is ignored).
 */
export function grantLease(log: LeaseLog, now: number, policy: WindowPolicy, request: LeaseRequest): LeaseGrant {
  for (const { leaseId, used } of request.returns) {
    const entry = log.get(leaseId);
    if (entry === undefined || entry.permits <= used) continue;
    if (used === 0) log.delete(leaseId);
    else entry.permits = used;
  }
  let before = 0;
  let oldest = Infinity;
  for (const [id, entry] of log) {
    if (entry.score <= now - policy.windowMs) log.delete(id);
    else {
      before += entry.permits;
      oldest = Math.min(oldest, entry.score);
    }
  }
  const granted = leaseSize(policy, before, request.wanted);
  const score = now + leaseDurationMs(policy);
  if (granted > 0) log.set(request.leaseId, { score, permits: granted });
  oldest = Math.min(oldest, granted > 0 ? score : Infinity);
  return { before, granted, resetMs: oldest === Infinity ? 0 : oldest + policy.windowMs - now };
}

/**
 * {@link grantLease} for every key of a call, in one round trip, atomic, on Redis's clock (`TIME`;
 * see slidingWindow.ts). `KEYS` are pairs: a key's log (a sorted set, lease id → score) and its
 * permits (a hash, lease id → permits, and `total`, their sum). `ARGV` is the call's lease id
 * prefix, then per key: limit, window ms, lease ms, wanted, lease number, the number of returns,
 * and that many pairs of lease id and permits used. Replies, per key, `{ before, granted, resetMs }`.
 * Both keys of a pair live until their newest lease leaves the window; an empty log is deleted.
 * Expired leases are read before they are removed, to take their permits off the total: O(leases
 * expired), each expiring once.
 */
export const LEASE_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local prefix = ARGV[1]
local a = 1
local reply = {}
for k = 1, #KEYS / 2 do
  local log = KEYS[k * 2 - 1]
  local permits = KEYS[k * 2]
  local limit = tonumber(ARGV[a + 1])
  local window = tonumber(ARGV[a + 2])
  local leaseMs = tonumber(ARGV[a + 3])
  local wanted = tonumber(ARGV[a + 4])
  local lease = prefix .. ARGV[a + 5]
  local returns = tonumber(ARGV[a + 6])
  a = a + 6
  for r = 1, returns do
    local id = ARGV[a + 1]
    local used = tonumber(ARGV[a + 2])
    a = a + 2
    local held = tonumber(redis.call('HGET', permits, id))
    if held and held > used then
      redis.call('HINCRBY', permits, 'total', used - held)
      if used == 0 then
        redis.call('HDEL', permits, id)
        redis.call('ZREM', log, id)
      else
        redis.call('HSET', permits, id, used)
      end
    end
  end
  local expired = redis.call('ZRANGEBYSCORE', log, '-inf', now - window)
  if #expired > 0 then
    local freed = 0
    for _, id in ipairs(expired) do
      freed = freed + (tonumber(redis.call('HGET', permits, id)) or 0)
      redis.call('HDEL', permits, id)
    end
    redis.call('HINCRBY', permits, 'total', -freed)
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
  end
  local before = tonumber(redis.call('HGET', permits, 'total')) or 0
  local room = math.max(0, limit - before)
  local granted = 0
  if wanted > 0 then granted = math.min(room, math.max(wanted, math.min(${MAX_LEASE}, math.max(1, math.floor(room / ${LEASE_SHARE}))))) end
  if granted > 0 then
    redis.call('ZADD', log, now + leaseMs, lease)
    redis.call('HSET', permits, lease, granted)
    redis.call('HINCRBY', permits, 'total', granted)
  end
  local reset = 0
  local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  if oldest[2] then
    reset = tonumber(oldest[2]) + window - now
    local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
    local ttl = tonumber(newest[2]) + window - now
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', permits, ttl)
  else
    redis.call('DEL', log, permits)
  end
  reply[#reply + 1] = before
  reply[#reply + 1] = granted
  reply[#reply + 1] = reset
end
return reply
`;

/** The script's reply, one {@link LeaseGrant} per key; anything else (a foreign script under the name) throws, which the guard counts as a failure. */
export function leaseGrants(reply: unknown, keys: number): LeaseGrant[] {
  if (!Array.isArray(reply) || reply.length !== keys * 3 || !reply.every((n) => typeof n === 'number')) {
    throw new TypeError(`lease script replied ${JSON.stringify(reply)}, expected [before, granted, resetMs] for each of ${keys} keys`);
  }
  const numbers = reply;
  return Array.from({ length: keys }, (_, k) => ({ before: numbers[k * 3]!, granted: numbers[k * 3 + 1]!, resetMs: numbers[k * 3 + 2]! }));
}

/** The key of a log's permit hash: the same hash tag, so the same Cluster slot. */
export function permitsKey(logKey: string): string {
  return `${logKey}:permits`;
}

/** A lease as the instance holding it sees it, on its own monotonic clock. */
export interface HeldLease {
  readonly id: string;
  readonly granted: number;
  /** Permits used so far. */
  used: number;
  /**
   * No permit is used from this time on: the time the call was sent plus the lease's duration,
   * which is no later than the lease's score on Redis's clock (the script ran after the call left).
   */
  readonly until: number;
  /** Permits counted in Redis before this lease. */
  readonly before: number;
  /** When the oldest lease leaves the window, as the grant said: the reply's arrival plus its `resetMs`. */
  readonly resetAt: number;
}

/**
 * Takes one permit of `lease` at `now`, or says there is none (all used, or the lease has ended).
 * `remaining` is an estimate: the limit less what was counted at the grant and what this instance
 * used of the lease since; what other instances took since the grant is not seen, and their leased
 * but unused permits count as used. Exact with one instance, or when leases are used up in turn.
 */
export function usePermit(lease: HeldLease, now: number, policy: WindowPolicy): WindowDecision | undefined {
  if (lease.used >= lease.granted || now >= lease.until) return undefined;
  lease.used++;
  return { allowed: true, remaining: policy.limit - lease.before - lease.used, resetMs: Math.max(0, lease.resetAt - now) };
}
