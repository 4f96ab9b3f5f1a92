import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Every request's id: what a client quotes to an operator, and what the log line with the detail
 * of its failure carries. A proxy's id (`x-request-id`) is kept when it is a plain token, so one id
 * follows the request through every hop; anything else (too long, too short, any character that
 * could forge a log field or split a header) is replaced by a fresh UUID, never echoed.
 */
export function assignRequestId(req: IncomingMessage, res: ServerResponse): string {
  const id = acceptedRequestId(req.headers['x-request-id']) ?? randomUUID();
  ids.set(req, id);
  // Set before anything else writes: every response carries it, 304s and cache hits included (the
  // response tier stores and replays only its own headers, never this one).
  res.setHeader('x-request-id', id);
  return id;
}

/** The id {@link assignRequestId} gave this request; undefined for one it never saw. */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return ids.get(req);
}

/** The incoming id when it is a plain token of 8 to 64 letters, digits, `-`, `_` or `.`; else undefined. Pure. */
export function acceptedRequestId(header: string | string[] | undefined): string | undefined {
  return typeof header === 'string' && ACCEPTED.test(header) ? header : undefined;
}

/** A fresh id, for an answer given before there is a request (a raw 431 on the socket). */
export function newRequestId(): string {
  return randomUUID();
}

// Private:

const ACCEPTED = /^[A-Za-z0-9._-]{8,64}$/;
const ids = new WeakMap<IncomingMessage, string>();
