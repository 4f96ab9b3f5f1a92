import { Cluster, type Redis } from 'ioredis';
import { withTimeout } from '../cache/tiers/tierGuard.ts';
import type { Logger } from '../logging/logger.ts';

/**
 * The startup check of the two jobs a Redis does here, and whether its settings let it do them:
 *
 * - the **cache** (L3) may drop anything at any time, and must, to stay bounded: it needs a
 *   `maxmemory` and a policy that evicts;
 * - the **views** store buffers product views until a flusher moves them into the database, so it
 *   must keep everything it holds: nothing evicted, everything on disk.
 *
 * A setting that breaks a role's promise is logged as a warning; nothing here ever stops startup.
 */

export type RedisRole = 'cache' | 'views';

/** The settings read, with `CONFIG GET`, from each Redis (each master of a Cluster). */
export const CHECKED_SETTINGS = ['maxmemory', 'maxmemory-policy', 'appendonly', 'appendfsync', 'save'] as const;

export type CheckedSetting = (typeof CHECKED_SETTINGS)[number];

/**
 * What one Redis answered: each setting's value as `CONFIG GET` gives it (a setting it did not
 * return is missing), or why it did not answer (CONFIG renamed or disabled, as on managed Redis; no
 * permission; no answer in time).
 */
export type SettingsReply = { readonly kind: 'answered'; readonly settings: Readonly<Partial<Record<CheckedSetting, string>>> } | { readonly kind: 'unavailable'; readonly reason: string };

/** Stable, for logs and alerts to match on. */
export type RoleWarningCode = 'CACHE_NOEVICTION' | 'CACHE_UNBOUNDED' | 'VIEWS_EVICTION' | 'VIEWS_NOT_PERSISTED' | 'VIEWS_SNAPSHOTS_ONLY' | 'VIEWS_FSYNC_NO' | 'CHECK_UNAVAILABLE';

export interface RoleWarning {
  readonly code: RoleWarningCode;
  readonly role: RedisRole;
  /** The setting at fault; `CONFIG` when the settings could not be read. */
  readonly setting: CheckedSetting | 'CONFIG';
  /** Its value, or why it could not be read. */
  readonly value: string;
  /** The role, the setting and its value, the promise that breaks, and the fix. The same for the same settings. */
  readonly message: string;
}

/**
 * The warnings one Redis's settings call for in a role. Pure.
 *
 * | role  | settings                                                  | warning                |
 * |-------|-----------------------------------------------------------|------------------------|
 * | any   | not readable, or a needed setting missing                 | CHECK_UNAVAILABLE      |
 * | cache | `maxmemory 0`                                             | CACHE_UNBOUNDED        |
 * | cache | a `maxmemory`, policy `noeviction`                        | CACHE_NOEVICTION       |
 * | views | a `maxmemory`, policy `allkeys-*` (anything but `noeviction` and `volatile-*`) | VIEWS_EVICTION |
 * | views | `appendonly no`, `save ""`                                | VIEWS_NOT_PERSISTED    |
 * | views | `appendonly no`, some `save` rule                         | VIEWS_SNAPSHOTS_ONLY   |
 * | views | `appendonly yes`, `appendfsync no`                        | VIEWS_FSYNC_NO         |
 *
 * `volatile-*` policies are not warned for the views store: they evict only keys with a TTL, and the
 * views keys never have one (viewKeys.ts; no EXPIRE anywhere), so to the views they are
 * `noeviction`: when full, a write is refused and the view goes straight to the database. They are
 * also how one Redis can serve both roles, since every cache key has a TTL.
 */
export function roleWarnings(role: RedisRole, reply: SettingsReply): RoleWarning[] {
  if (reply.kind === 'unavailable') return [unavailable(role, reply.reason)];
  const missing = NEEDED[role].filter((name) => reply.settings[name] === undefined);
  if (missing.length > 0) return [unavailable(role, `CONFIG GET returned nothing for ${missing.join(', ')}`)];
  return WARNINGS_OF[role](reply.settings as Readonly<Record<CheckedSetting, string>>);
}

/** A warning with the Redis node it is about (`host:port`). */
export type NodeWarning = RoleWarning & { readonly node: string };

/** The connection of each role to check; a role without one (no L3, views written directly) is skipped. */
export type RoleConnections = { readonly [R in RedisRole]?: Redis | Cluster | undefined };

export interface RedisRolesCheckOptions {
  logger: Logger;
  /** A node that has not answered its `CONFIG GET`s after this many ms is reported unchecked: REDIS_COMMAND_TIMEOUT_MS. */
  timeoutMs: number;
}

/**
 * Reads each role's Redis settings and logs, at warn level, every warning {@link roleWarnings}
 * gives; resolves to them. On a Cluster, every master known to the client is checked (each holds
 * some of the role's keys, the views' `{views}` slot on one of them, which resharding may move).
 * Takes at most about `timeoutMs` (all nodes at once) and never rejects.
 */
export async function checkRedisRoles(connections: RoleConnections, options: RedisRolesCheckOptions): Promise<NodeWarning[]> {
  const logger = options.logger.child({ component: 'redisRoles' });
  const checks = ROLES.flatMap((role) => {
    const redis = connections[role];
    if (redis === undefined) return [];
    const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
    // A Cluster that never became ready knows no master: there is nothing to ask.
    if (nodes.length === 0) return [Promise.resolve(withNode(roleWarnings(role, NO_MASTER), 'cluster'))];
    return nodes.map(async (node) => withNode(roleWarnings(role, await readSettings(node, options.timeoutMs)), nodeName(node)));
  });
  const warnings = (await Promise.all(checks)).flat();
  for (const { message, ...fields } of warnings) logger.warn(fields, message);
  return warnings;
}

/** The {@link CHECKED_SETTINGS} of one node, or why they could not be read; never rejects. */
export async function readSettings(node: Redis, timeoutMs: number): Promise<SettingsReply> {
  try {
    // One CONFIG GET per setting (several parameters in one are Redis 7 only), all sent at once.
    const replies = await withTimeout(Promise.all(CHECKED_SETTINGS.map((name) => node.config('GET', name) as Promise<unknown>)), timeoutMs);
    const settings: Partial<Record<CheckedSetting, string>> = {};
    CHECKED_SETTINGS.forEach((name, i) => {
      const value = valueOf(replies[i], name);
      if (value !== undefined) settings[name] = value;
    });
    return { kind: 'answered', settings };
  } catch (error) {
    return { kind: 'unavailable', reason: error instanceof Error ? error.message : String(error) };
  }
}

// Private:

const ROLES: readonly RedisRole[] = ['cache', 'views'];

const NEEDED: Record<RedisRole, readonly CheckedSetting[]> = {
  cache: ['maxmemory', 'maxmemory-policy'],
  views: CHECKED_SETTINGS,
};

const NO_MASTER: SettingsReply = { kind: 'unavailable', reason: 'no Cluster master is known (the Cluster is not ready)' };

// A Record, so a new role does not type-check until it has its rules.
const WARNINGS_OF: Record<RedisRole, (settings: Readonly<Record<CheckedSetting, string>>) => RoleWarning[]> = {
  cache: cacheWarnings,
  views: viewsWarnings,
};

const FIX: Record<RedisRole, string> = {
  cache: 'make sure it runs with a maxmemory and maxmemory-policy allkeys-lru',
  views: 'make sure it runs with maxmemory-policy noeviction and appendonly yes',
};

function cacheWarnings(settings: Readonly<Record<CheckedSetting, string>>): RoleWarning[] {
  const policy = settings['maxmemory-policy'];
  // Without a maxmemory no policy applies: the cache is bounded by its TTLs alone.
  if (!hasMaxmemory(settings)) {
    return [
      {
        code: 'CACHE_UNBOUNDED',
        role: 'cache',
        setting: 'maxmemory',
        value: settings.maxmemory,
        message:
          "cache Redis has maxmemory 0 (no limit): nothing is ever evicted, so its memory is bounded only by the entries' TTLs times the write rate and can exhaust the host; set maxmemory (e.g. 256mb) with maxmemory-policy allkeys-lru",
      },
    ];
  }
  if (policy === 'noeviction') {
    return [
      {
        code: 'CACHE_NOEVICTION',
        role: 'cache',
        setting: 'maxmemory-policy',
        value: policy,
        message:
          'cache Redis has maxmemory-policy noeviction with a maxmemory: once full, every cache write fails instead of evicting an old entry, and the cache stops taking new ones; set maxmemory-policy allkeys-lru (or allkeys-lfu)',
      },
    ];
  }
  return [];
}

function viewsWarnings(settings: Readonly<Record<CheckedSetting, string>>): RoleWarning[] {
  const warnings: RoleWarning[] = [];
  const policy = settings['maxmemory-policy'];
  if (hasMaxmemory(settings) && policy !== 'noeviction' && !policy.startsWith('volatile-')) {
    warnings.push({
      code: 'VIEWS_EVICTION',
      role: 'views',
      setting: 'maxmemory-policy',
      value: policy,
      message: `views Redis has maxmemory-policy ${policy} with a maxmemory: once full it evicts keys, and can silently drop buffered views before they are flushed; set maxmemory-policy noeviction (a full store then refuses views, which go straight to the database)`,
    });
  }
  const save = settings.save.trim();
  if (settings.appendonly !== 'yes' && save === '') {
    warnings.push({
      code: 'VIEWS_NOT_PERSISTED',
      role: 'views',
      setting: 'appendonly',
      value: settings.appendonly,
      message:
        'views Redis has appendonly no and save "" (nothing on disk): a restart loses every view buffered and not yet flushed (about VIEW_FLUSH_INTERVAL_MS × views per second, more while the flusher lags); set appendonly yes with appendfsync everysec',
    });
  } else if (settings.appendonly !== 'yes') {
    warnings.push({
      code: 'VIEWS_SNAPSHOTS_ONLY',
      role: 'views',
      setting: 'appendonly',
      value: settings.appendonly,
      message: `views Redis has appendonly no and only RDB snapshots (save "${save}"): a crash loses the views buffered since the last snapshot; set appendonly yes with appendfsync everysec`,
    });
  } else if (settings.appendfsync === 'no') {
    warnings.push({
      code: 'VIEWS_FSYNC_NO',
      role: 'views',
      setting: 'appendfsync',
      value: settings.appendfsync,
      message: 'views Redis has appendfsync no: the OS decides when the AOF reaches the disk, so a host crash can lose the last ~30 s of buffered views; set appendfsync everysec',
    });
  }
  return warnings;
}

function unavailable(role: RedisRole, reason: string): RoleWarning {
  return {
    code: 'CHECK_UNAVAILABLE',
    role,
    setting: 'CONFIG',
    value: reason,
    message: `${role} Redis settings could not be read (CONFIG GET failed: renamed or disabled, as on managed Redis, not permitted, or no answer in time), so its eviction and persistence are unchecked; ${FIX[role]}`,
  };
}

function hasMaxmemory(settings: Readonly<Record<CheckedSetting, string>>): boolean {
  return Number(settings.maxmemory) > 0;
}

function withNode(warnings: RoleWarning[], node: string): NodeWarning[] {
  return warnings.map((warning) => ({ ...warning, node }));
}

function nodeName(node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`;
}

/** `[name, value]` (RESP2, and ioredis's RESP3 transform) or `{ name: value }`; undefined when the reply has no such setting. */
function valueOf(reply: unknown, name: CheckedSetting): string | undefined {
  if (Array.isArray(reply)) {
    const i = reply.findIndex((item, index) => index % 2 === 0 && String(item) === name);
    return i >= 0 && i + 1 < reply.length ? String(reply[i + 1]) : undefined;
  }
  if (reply !== null && typeof reply === 'object' && name in reply) return String((reply as Record<string, unknown>)[name]);
  return undefined;
}
