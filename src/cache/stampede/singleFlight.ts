/**
 * In-process single flight: concurrent loads of the same key, from any number of requests, share one
 * load. Keys are joined individually, but the keys nobody is loading yet are started together, with
 * one call, so a DataLoader batch stays one database statement.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  /** Whether a load of `key` is running now. */
  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /**
   * Resolves each key: joins the flight in progress for it, or starts `start` once for all the keys
   * that have none. `start` receives distinct keys and returns their results in the same order.
   */
  run(keys: readonly string[], start: (keys: string[]) => Promise<T[]>): Promise<T[]> {
    const starting = [...new Set(keys.filter((key) => !this.inFlight.has(key)))];
    if (starting.length > 0) {
      const batch = start(starting);
      starting.forEach((key, i) => {
        const flight = batch.then((results) => results[i] as T);
        this.inFlight.set(key, flight);
        // The flight lands (or fails) once for everyone; the next miss starts a new one.
        const land = () => {
          if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
        };
        flight.then(land, land);
      });
    }
    return Promise.all(keys.map((key) => this.inFlight.get(key) as Promise<T>));
  }
}
