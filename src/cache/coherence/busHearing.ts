// eslint-disable-next-line @typescript-eslint/no-unused-vars -- imported for the {@link} in a doc comment
import type { InvalidationBusOptions } from './busOptions.ts';

export interface BusHearingOptions {
  /** {@link InvalidationBusOptions.deadlineMs}, validated. */
  deadlineMs: number;
  /** The clock, ms since the epoch. */
  now: () => number;
  /** Every message may no longer be heard. Called once per transition, after it. */
  onDeaf(reason: string): void;
  /** Every message is being heard again. Called once per transition, after it. */
  onHearing(): void;
}

/**
 * Whether the bus hears every message, proved by its own messages coming back: deaf until one sent
 * after {@link BusHearing.proveFrom} comes back, then hearing while one comes back at least every
 * deadlineMs. A message known lost is a deaf moment: deaf then hearing in one tick, so the owner
 * clears L2 and uses it again. Once closed it is deaf for good and calls nothing back.
 */
export class BusHearing {
  private state: 'deaf' | 'hearing' = 'deaf';
  private closed = false;
  /** Own messages sent from then on prove hearing: a heartbeat period after subscribing. */
  private hearingFrom = Number.POSITIVE_INFINITY;
  private lastOwnHeardAt = 0;

  /** When an own message last came back, ms since the epoch; 0 before the first. */
  get lastHeardAt(): number {
    return this.lastOwnHeardAt;
  }
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly hearingWaiters = new Set<() => void>();

  constructor(private readonly options: BusHearingOptions) {}

  get hearing(): boolean {
    return this.state === 'hearing';
  }

  /** Resolves true as soon as it hears, false after `ms` or on close. */
  waitUntilHearing(ms: number): Promise<boolean> {
    if (this.hearing || this.closed) return Promise.resolve(this.hearing);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.hearingWaiters.delete(done);
        resolve(this.hearing);
      };
      const timer = setTimeout(done, ms);
      this.hearingWaiters.add(done);
    });
  }

  /** Own messages sent from `sentAt` on prove hearing when they come back. */
  proveFrom(sentAt: number): void {
    this.hearingFrom = sentAt;
  }

  /** One of the bus's own messages came back: the round trip works. */
  heardOwn(sentAt: number): void {
    this.lastOwnHeardAt = this.options.now();
    if (this.hearing) this.armDeadline();
    else if (sentAt >= this.hearingFrom) this.becomeHearing();
  }

  /** A message is lost: a deaf moment, so the owner clears L2. Nothing to do while deaf (L2 is paused). */
  lost(reason: string): void {
    if (!this.hearing) return;
    this.becomeDeaf(reason);
    this.becomeHearing();
  }

  becomeDeaf(reason: string): void {
    if (!this.hearing || this.closed) return;
    this.state = 'deaf';
    clearTimeout(this.deadlineTimer);
    this.options.onDeaf(reason);
  }

  /** Deaf for good, without a callback; whoever waits is told false. */
  close(): void {
    this.closed = true;
    this.state = 'deaf';
    clearTimeout(this.deadlineTimer);
    for (const wake of [...this.hearingWaiters]) wake();
  }

  // Private:

  private becomeHearing(): void {
    if (this.hearing || this.closed) return;
    this.state = 'hearing';
    this.armDeadline();
    this.options.onHearing();
    for (const wake of [...this.hearingWaiters]) wake();
  }

  /**
   * Deaf once deadlineMs pass without an own message. The check runs after the event loop's I/O phase
   * (as in withTimeout): a heartbeat already waiting on the socket counts, so a busy event loop is not
   * taken for a silent Redis.
   */
  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const { deadlineMs, now } = this.options;
    const remaining = Math.max(0, this.lastOwnHeardAt + deadlineMs - now());
    this.deadlineTimer = setTimeout(() => {
      setImmediate(() => {
        if (!this.hearing || this.closed) return;
        const silentMs = now() - this.lastOwnHeardAt;
        if (silentMs >= deadlineMs) this.becomeDeaf(`no own message heard for ${silentMs} ms`);
        else this.armDeadline();
      });
    }, remaining).unref();
  }
}
