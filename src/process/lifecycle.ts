import type { Logger } from '../logging/logger.ts';
import { ConfigError } from '../errors.ts';

/**
 * What every entry point (the server, the standalone view flusher) does around its work: refuse a bad
 * configuration with one clear line, and stop gracefully on SIGTERM or SIGINT, once.
 */

/** Runs `read`; a {@link ConfigError} prints its message and exits 1 instead of a stack trace. */
export function readConfigOrExit<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}

/** On the first SIGTERM or SIGINT, runs `stop` and exits 0 (1 if it fails); later signals are ignored. */
export function stopOnSignals(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      stop().then(
        () => process.exit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}
