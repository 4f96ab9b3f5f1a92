/** One key to load, with the tags of the entry it will fill. */
export interface FlightKey {
  readonly key: string;
  readonly tags: readonly string[];
}

/**
 * In-process single flight: concurrent loads of the same key, from any number of requests, share one
 * load. Keys are joined individually, but the keys nobody is loading yet are started together, with
 * one call, so a DataLoader batch stays one database statement.
 *
 * A flight may only be joined by a reader that could have started it: once any of its tags is
 * invalidated ({@link abandon}), the flight may return the row from before the write, so the next
 * reader starts a new flight instead. Otherwise a request that began after the write (the writer
 * reading its own write, or a response stored under a fence taken after the invalidation) would take
 * the old value from a load that began before it.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Flight<T>>();
  /** Which flights carry each tag: what {@link abandon} looks up. */
  private readonly keysByTag = new Map<string, Set<string>>();

  /** Whether a load of `key` is running now and may be joined. */
  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /**
   * Resolves each key: joins the flight in progress for it, or starts `start` once for all the keys
   * that have none. `start` receives distinct keys and returns their results in the same order.
   */
  run(keys: readonly FlightKey[], start: (keys: string[]) => Promise<T[]>): Promise<T[]> {
    const starting = new Map<string, FlightKey>();
    for (const key of keys) if (!this.inFlight.has(key.key)) starting.set(key.key, key);
    const joined = keys.map((key) => this.inFlight.get(key.key));
    if (starting.size > 0) {
      const batch = start([...starting.keys()]);
      [...starting.values()].forEach((key, i) => {
        const flight: Flight<T> = { promise: batch.then((results) => results[i] as T), tags: key.tags };
        this.inFlight.set(key.key, flight);
        this.index(key.key, key.tags);
        // The flight lands (or fails) once for everyone; the next miss starts a new one.
        const land = () => this.forget(key.key, flight);
        flight.promise.then(land, land);
      });
    }
    // Each key's own flight: one that landed or was abandoned meanwhile still answers its joiners.
    return Promise.all(keys.map((key, i) => (joined[i] ?? (this.inFlight.get(key.key) as Flight<T>)).promise));
  }

  /** Flights carrying any of `tags` started before their invalidation: nobody joins them from now on. */
  abandon(tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (!keys) continue;
      for (const key of [...keys]) {
        const flight = this.inFlight.get(key);
        if (flight) this.forget(key, flight);
      }
    }
  }

  /** Every flight running now: nobody joins them (the local tier could no longer hear invalidations). */
  abandonAll(): void {
    this.inFlight.clear();
    this.keysByTag.clear();
  }

  private forget(key: string, flight: Flight<T>): void {
    if (this.inFlight.get(key) !== flight) return;
    this.inFlight.delete(key);
    for (const tag of flight.tags) {
      const keys = this.keysByTag.get(tag);
      keys?.delete(key);
      if (keys?.size === 0) this.keysByTag.delete(tag);
    }
  }

  private index(key: string, tags: readonly string[]): void {
    for (const tag of tags) {
      const keys = this.keysByTag.get(tag);
      if (keys) keys.add(key);
      else this.keysByTag.set(tag, new Set([key]));
    }
  }
}

// Private:

interface Flight<T> {
  readonly promise: Promise<T>;
  readonly tags: readonly string[];
}
