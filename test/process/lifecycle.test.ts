import { describe, expect, it } from 'vitest';
import { Lifecycle } from '../../src/process/lifecycle.ts';
import { createLogger } from '../../src/logging/logger.ts';

const silent = createLogger('silent');

describe('Lifecycle', () => {
  it('closes parts in reverse order of opening', async () => {
    const closed: string[] = [];
    const lifecycle = new Lifecycle(silent);
    for (const name of ['database', 'cache', 'http']) lifecycle.own(name, { close: () => void closed.push(name) });
    await lifecycle.close();
    expect(closed).toEqual(['http', 'cache', 'database']);
  });

  it('keeps closing after one part fails, then rethrows the failure', async () => {
    const closed: string[] = [];
    const lifecycle = new Lifecycle(silent);
    lifecycle.onClose('database', () => void closed.push('database'));
    lifecycle.onClose('redis', () => Promise.reject(new Error('quit timed out')));
    lifecycle.onClose('http', () => void closed.push('http'));
    await expect(lifecycle.close()).rejects.toThrow('quit timed out');
    expect(closed).toEqual(['http', 'database']);
  });

  it('closes what a failed start had opened, and nothing twice', async () => {
    const closed: string[] = [];
    const lifecycle = new Lifecycle(silent);
    const start = lifecycle.openOrClose(async () => {
      lifecycle.onClose('database', () => void closed.push('database'));
      lifecycle.onClose('cache', () => void closed.push('cache'));
      throw new Error('apollo.start failed');
    });
    await expect(start).rejects.toThrow('apollo.start failed');
    expect(closed).toEqual(['cache', 'database']);
    await lifecycle.close();
    expect(closed).toEqual(['cache', 'database']);
  });

  it('refuses a part opened after it closed', async () => {
    const lifecycle = new Lifecycle(silent);
    await lifecycle.close();
    expect(() => lifecycle.onClose('late', () => {})).toThrow(/after the lifecycle closed/);
  });
});
