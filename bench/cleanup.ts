import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Undo steps registered as the run acquires resources (its database, its Redis keys), run newest
 * first and exactly once, whichever way the run ends: success, failure, a signal or the watchdog.
 */
export class Cleanup {
  private readonly steps: { label: string; undo: () => Promise<void> }[] = [];
  private running: Promise<void> | undefined;

  /** True once {@link run} was called: the run must not acquire anything new. */
  get closing(): boolean {
    return this.running !== undefined;
  }

  defer(label: string, undo: () => Promise<void>): void {
    this.steps.push({ label, undo });
  }

  /**
   * Runs every step even if some fail or hang (each failure is reported, each step gets
   * {@link STEP_TIMEOUT_MS}); later calls await the first.
   */
  run(): Promise<void> {
    this.running ??= this.runSteps();
    return this.running;
  }

  private async runSteps(): Promise<void> {
    for (const { label, undo } of [...this.steps].reverse()) {
      try {
        await Promise.race([undo(), timeout(STEP_TIMEOUT_MS)]);
      } catch (error) {
        console.error(`bench: cleanup "${label}" failed:`, error);
      }
    }
  }
}

const STEP_TIMEOUT_MS = 15_000;

async function timeout(ms: number): Promise<never> {
  // Unreferenced: a pending timer must not keep the process alive once the step finished.
  await sleep(ms, undefined, { ref: false });
  throw new Error(`timed out after ${ms} ms`);
}
