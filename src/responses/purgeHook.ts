import type { Logger } from 'pino';

/**
 * Told the tags each mutation invalidated, on the instance that made it, so that a CDN in front can
 * purge the responses it holds under them (they list their tags in `Surrogate-Key`). A failing hook
 * is logged; it never fails the mutation, whose own tiers are already coherent.
 */
export type PurgeHook = (tags: readonly string[]) => void | Promise<void>;

/** The default: log the tags, for an operator or a log-driven purger to act on. */
export function loggingPurgeHook(logger: Logger): PurgeHook {
  return (tags) => logger.info({ tags }, 'purge: tags invalidated');
}
