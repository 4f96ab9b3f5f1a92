/**
 * What travels on the channel, as JSON; a heartbeat is a message without tags. `origin`, `tags` and
 * `generations` keep their names from the previous version, which reads an invalidation as before
 * and a heartbeat as an empty one during a rolling deploy (its messages, unnumbered, read here as
 * unreadable: L2 is cleared).
 */
export interface BusMessage {
  origin: string;
  /** Random per bus: with `origin`, whose numbers `seq` counts. */
  boot: string;
  /** An invalidation's number (1, 2, 3...), or for a heartbeat the last number used (0 before any). */
  seq: number;
  /** When it was sent, ms since the epoch: the propagation delay is the receiver's now minus this. */
  sentAt: number;
  tags: readonly string[];
  /** The L3 generation each tag got, when known. */
  generations?: readonly string[];
}

export type ReadMessage = ({ kind: 'message' } & BusMessage) | { kind: 'unreadable' };

/** Parses and validates a message from the channel; anything that is not a whole message is unreadable. */
export function readMessage(text: string): ReadMessage {
  let parsed: Partial<Record<keyof BusMessage, unknown>>;
  try {
    parsed = (JSON.parse(text) as typeof parsed | null) ?? {};
  } catch {
    return { kind: 'unreadable' };
  }
  const { origin, boot, seq, sentAt, tags, generations } = parsed;
  if (typeof origin !== 'string' || typeof boot !== 'string' || typeof sentAt !== 'number' || !isStringArray(tags)) return { kind: 'unreadable' };
  // An invalidation is numbered from 1; a heartbeat before any invalidation says 0.
  if (!Number.isSafeInteger(seq) || (seq as number) < (tags.length > 0 ? 1 : 0)) return { kind: 'unreadable' };
  // Generations that do not match the tags are left out: the invalidation itself is readable.
  const matching = isStringArray(generations) && generations.length === tags.length ? generations : undefined;
  return { kind: 'message', origin, boot, seq: seq as number, sentAt, tags, ...(matching ? { generations: matching } : {}) };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}
