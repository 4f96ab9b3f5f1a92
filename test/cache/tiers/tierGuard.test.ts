import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Writable } from 'node:stream';
import { TierGuard } from '../../../src/cache/tiers/tierGuard.ts';

function setup() {
  const lines: Array<{ msg: string; level: number }> = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _e, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    }),
  );
  let now = 1_000;
  const guard = new TierGuard({ tier: 'L3', logger, retryAfterMs: 500, now: () => now });
  return { guard, lines, advance: (ms: number) => (now += ms) };
}

const fail = () => Promise.reject(new Error('ECONNREFUSED'));

describe('TierGuard', () => {
  it('returns the call result while the tier works', async () => {
    const { guard } = setup();
    expect(await guard.run('fallback', async () => 'value')).toBe('value');
    expect(guard.state).toBe('up');
  });

  it('turns a failure into the fallback, and logs the outage once, not once per call', async () => {
    const { guard, lines, advance } = setup();
    for (let i = 0; i < 10; i++) {
      expect(await guard.run('fallback', fail)).toBe('fallback');
      advance(600);
    }
    expect(guard.state).toBe('down');
    expect(lines.filter((l) => l.msg.includes('unavailable'))).toHaveLength(1);
  });

  it('skips the tier for retryAfterMs after a failure, then probes it again', async () => {
    const { guard, advance } = setup();
    await guard.run('fallback', fail);
    let called = 0;
    const probe = async () => {
      called += 1;
      return 'value';
    };
    advance(499);
    expect(await guard.run('fallback', probe)).toBe('fallback');
    expect(called).toBe(0);
    advance(1);
    expect(await guard.run('fallback', probe)).toBe('value');
    expect(called).toBe(1);
  });

  it('logs the recovery once', async () => {
    const { guard, lines, advance } = setup();
    await guard.run('fallback', fail);
    advance(500);
    await guard.run('fallback', async () => 'value');
    await guard.run('fallback', async () => 'value');
    expect(guard.state).toBe('up');
    expect(lines.filter((l) => l.msg.includes('recovered'))).toHaveLength(1);
  });
});
