import type { WindowDecision, WindowPolicy } from './slidingWindow.ts';

/**
 * Where the sliding-window logs live. `count` admits or refuses one request under `key`; it resolves
 * to `undefined` when the log cannot be reached (Redis down or silent past the command timeout), and
 * never rejects.
 */
export interface WindowCounter {
  count(key: string, policy: WindowPolicy): Promise<WindowDecision | undefined>;
}
