import type { Logger } from '../logging/logger.ts';
import { ConfigError } from '../errors.ts';

/**
 * What every entry point (the server, the standalone view flusher) does around its work: refuse a bad
 * configuration with one clear line, open its parts so that stopping mirrors opening, and stop
 * gracefully on SIGTERM or SIGINT, once.
 */

/** What a builder returns: the part it built, with the one way to close it. */
export interface Closable {
  close(): Promise<void> | void;
}

/**
 * The parts a process opened, in order. Stopping closes them in reverse, so each part closes while
 * everything it uses is still open; a start that fails part-way closes what it had opened.
 */
export class Lifecycle {
  readonly #opened: Array<{ readonly name: string; readonly close: () => Promise<void> | void }> = [];
  #closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  /** Registers a part that has just been built, and returns it. */
  own<T extends Closable>(name: string, part: T): T {
    this.onClose(name, () => part.close());
    return part;
  }

  /** Registers a close for something opened just now. */
  onClose(name: string, close: () => Promise<void> | void): void {
    if (this.#closing) throw new Error(`${name} was opened after the lifecycle closed`);
    this.#opened.push({ name, close });
  }

  /**
   * Runs `open`; if it throws, closes whatever it had registered, then rethrows. A server whose
   * start failed leaves no connection or timer behind.
   */
  async openOrClose<T>(open: () => Promise<T>): Promise<T> {
    try {
      return await open();
    } catch (error) {
      await this.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Closes every part, last opened first. One that fails is logged and the rest still close (a
   * Redis that will not quit must not keep the database open); the first failure is then rethrown.
   * Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    const failures: unknown[] = [];
    for (const { name, close } of this.#opened.reverse()) {
      try {
        await close();
      } catch (error) {
        this.logger.error({ err: error, part: name }, 'closing failed');
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}

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
