import { describe, expect, it } from 'vitest';
import { roleWarnings, type CheckedSetting, type RedisRole, type SettingsReply } from '../../src/process/redisRoles.ts';

/** What a Redis answers, from settings that keep both roles' promises, with `overrides` on top. */
function answered(overrides: Partial<Record<CheckedSetting, string | undefined>> = {}): SettingsReply {
  const settings: Partial<Record<CheckedSetting, string>> = {
    maxmemory: '268435456',
    'maxmemory-policy': 'allkeys-lru',
    appendonly: 'yes',
    appendfsync: 'everysec',
    save: '',
  };
  for (const [name, value] of Object.entries(overrides) as Array<[CheckedSetting, string | undefined]>) {
    if (value === undefined) delete settings[name];
    else settings[name] = value;
  }
  return { kind: 'answered', settings };
}

const AOF_NOEVICTION = { 'maxmemory-policy': 'noeviction', appendonly: 'yes', appendfsync: 'everysec' };
// docker-compose's cache: bounded, LRU, nothing on disk.
const COMPOSE_CACHE = { maxmemory: '268435456', 'maxmemory-policy': 'allkeys-lru', appendonly: 'no', save: '' };
const UNAVAILABLE: SettingsReply = { kind: 'unavailable', reason: "ERR unknown command 'config'" };

describe('roleWarnings', () => {
  it.each<[string, RedisRole, SettingsReply, string[]]>([
    // The cache: bounded and evicting.
    ['a bounded LRU cache', 'cache', answered(COMPOSE_CACHE), []],
    ['a bounded LFU cache', 'cache', answered({ 'maxmemory-policy': 'allkeys-lfu' }), []],
    ['a cache evicting keys with a TTL (every cache key has one)', 'cache', answered({ 'maxmemory-policy': 'volatile-lru' }), []],
    ['a cache that also persists', 'cache', answered({ appendonly: 'yes', save: '3600 1' }), []],
    ['a cache with noeviction and a maxmemory', 'cache', answered({ 'maxmemory-policy': 'noeviction' }), ['CACHE_NOEVICTION']],
    ['a cache with no maxmemory', 'cache', answered({ maxmemory: '0' }), ['CACHE_UNBOUNDED']],
    // Without a maxmemory noeviction never comes into play: one warning, the one to fix first.
    ['a cache with no maxmemory and noeviction (Redis defaults)', 'cache', answered({ maxmemory: '0', 'maxmemory-policy': 'noeviction' }), ['CACHE_UNBOUNDED']],
    ['a cache whose CONFIG is unavailable', 'cache', UNAVAILABLE, ['CHECK_UNAVAILABLE']],
    ['a cache that did not return maxmemory-policy', 'cache', answered({ 'maxmemory-policy': undefined }), ['CHECK_UNAVAILABLE']],
    ['a cache that did not return its persistence (not needed for a cache)', 'cache', answered({ appendonly: undefined, appendfsync: undefined, save: undefined }), []],

    // The views store: never evicting, on disk.
    ['a views store with AOF and noeviction, unbounded', 'views', answered({ ...AOF_NOEVICTION, maxmemory: '0' }), []],
    ['a views store with AOF and noeviction, bounded', 'views', answered(AOF_NOEVICTION), []],
    ['a views store with AOF fsynced always', 'views', answered({ ...AOF_NOEVICTION, appendfsync: 'always' }), []],
    ['a views store with AOF and RDB both', 'views', answered({ ...AOF_NOEVICTION, save: '3600 1 300 100 60 10000' }), []],
    ['a views store with allkeys-lru and a maxmemory', 'views', answered({ ...AOF_NOEVICTION, 'maxmemory-policy': 'allkeys-lru' }), ['VIEWS_EVICTION']],
    ['a views store with allkeys-lfu and a maxmemory', 'views', answered({ ...AOF_NOEVICTION, 'maxmemory-policy': 'allkeys-lfu' }), ['VIEWS_EVICTION']],
    ['a views store with allkeys-random and a maxmemory', 'views', answered({ ...AOF_NOEVICTION, 'maxmemory-policy': 'allkeys-random' }), ['VIEWS_EVICTION']],
    // Nothing is evicted below maxmemory, and with none there is no eviction at all.
    ['a views store with allkeys-lru and no maxmemory', 'views', answered({ ...AOF_NOEVICTION, 'maxmemory-policy': 'allkeys-lru', maxmemory: '0' }), []],
    // volatile-* evicts only keys with a TTL, and the views keys never have one.
    ['a views store with volatile-lru', 'views', answered({ ...AOF_NOEVICTION, 'maxmemory-policy': 'volatile-lru' }), []],
    ['a views store with volatile-ttl', 'views', answered({ ...AOF_NOEVICTION, 'maxmemory-policy': 'volatile-ttl' }), []],
    ['a views store with nothing on disk', 'views', answered({ ...AOF_NOEVICTION, appendonly: 'no', save: '' }), ['VIEWS_NOT_PERSISTED']],
    ['a views store with RDB snapshots only', 'views', answered({ ...AOF_NOEVICTION, appendonly: 'no', save: '3600 1 300 100 60 10000' }), ['VIEWS_SNAPSHOTS_ONLY']],
    ['a views store whose AOF is never fsynced', 'views', answered({ ...AOF_NOEVICTION, appendfsync: 'no' }), ['VIEWS_FSYNC_NO']],
    ['the compose cache used as the views store', 'views', answered(COMPOSE_CACHE), ['VIEWS_EVICTION', 'VIEWS_NOT_PERSISTED']],
    ['a views store whose CONFIG is unavailable', 'views', UNAVAILABLE, ['CHECK_UNAVAILABLE']],
    ['a views store that did not return appendfsync', 'views', answered({ ...AOF_NOEVICTION, appendfsync: undefined }), ['CHECK_UNAVAILABLE']],
  ])('%s (%s): %j', (_case, role, reply, codes) => {
    const warnings = roleWarnings(role, reply);
    expect(warnings.map((warning) => warning.code)).toEqual(codes);
    for (const warning of warnings) expect(warning.role).toBe(role);
  });

  it('names the role, the setting and its value in each message, and says what to set', () => {
    const cases: Array<[RedisRole, SettingsReply]> = [
      ['cache', answered({ 'maxmemory-policy': 'noeviction' })],
      ['cache', answered({ maxmemory: '0' })],
      ['views', answered({ ...COMPOSE_CACHE, 'maxmemory-policy': 'allkeys-lfu' })],
      ['views', answered({ ...AOF_NOEVICTION, appendonly: 'no', save: '900 1' })],
      ['views', answered({ ...AOF_NOEVICTION, appendfsync: 'no' })],
    ];
    const warnings = cases.flatMap(([role, reply]) => roleWarnings(role, reply));
    expect(warnings.map((w) => [w.code, w.setting, w.value])).toEqual([
      ['CACHE_NOEVICTION', 'maxmemory-policy', 'noeviction'],
      ['CACHE_UNBOUNDED', 'maxmemory', '0'],
      ['VIEWS_EVICTION', 'maxmemory-policy', 'allkeys-lfu'],
      ['VIEWS_NOT_PERSISTED', 'appendonly', 'no'],
      ['VIEWS_SNAPSHOTS_ONLY', 'appendonly', 'no'],
      ['VIEWS_FSYNC_NO', 'appendfsync', 'no'],
    ]);
    for (const w of warnings) {
      expect(w.message).toMatch(new RegExp(`^${w.role} Redis has `));
      expect(w.message).toContain(`${w.setting} ${w.value}`);
      expect(w.message).toMatch(/; set /);
    }
    expect(warnings[4]?.message).toContain('save "900 1"');
  });

  it('says the check could not run, with the reason as the value and a message that does not vary with it', () => {
    const [first] = roleWarnings('views', UNAVAILABLE);
    const [second] = roleWarnings('views', { kind: 'unavailable', reason: 'no answer within 250 ms' });
    expect(first).toMatchObject({ code: 'CHECK_UNAVAILABLE', role: 'views', setting: 'CONFIG', value: "ERR unknown command 'config'" });
    expect(second?.value).toBe('no answer within 250 ms');
    expect(first?.message).toBe(second?.message);
    expect(first?.message).toMatch(/^views Redis settings could not be read .* unchecked; make sure it runs with maxmemory-policy noeviction and appendonly yes$/);
    expect(roleWarnings('cache', UNAVAILABLE)[0]?.message).toMatch(/^cache Redis settings could not be read .*maxmemory-policy allkeys-lru$/);
    expect(roleWarnings('views', answered({ save: undefined, appendfsync: undefined }))[0]?.value).toBe('CONFIG GET returned nothing for appendfsync, save');
  });
});
