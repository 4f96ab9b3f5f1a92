import { InvalidTokenError } from '../errors.ts';
import type { BearerTokens } from './bearerTokens.ts';
import type { Role } from './roles.ts';

/** Who is asking, and what they may do. `userId` and `role` are null for an anonymous request: one that sent no Authorization header. */
export type Viewer = { readonly userId: number; readonly role: Role } | { readonly userId: null; readonly role: null };

export const ANONYMOUS: Viewer = Object.freeze({ userId: null, role: null });

/**
 * The viewer an `Authorization` header names. No header is anonymous; a header that is there but
 * cannot be trusted throws {@link InvalidTokenError} rather than falling back to anonymous, so a
 * client with a broken token is told. Synchronous when the token was verified before.
 */
export function viewerFrom(authorization: string | undefined, tokens: BearerTokens): Viewer | Promise<Viewer> {
  if (authorization === undefined) return ANONYMOUS;
  // A verified subject is a Viewer as it is: no object is made per request.
  return tokens.verify(bearerToken(authorization));
}

// Private:

function bearerToken(authorization: string): string {
  // RFC 6750 §2.1: `Bearer 1*SP token`; the scheme is case-insensitive (RFC 9110 §11.1).
  const match = /^(\S+)(?: +(.*))?$/s.exec(authorization.trim());
  if (match === null || match[1]?.toLowerCase() !== 'bearer') {
    throw new InvalidTokenError('Authorization header must be `Bearer <token>`');
  }
  const token = match[2]?.trim() ?? '';
  if (token === '') throw new InvalidTokenError('Bearer token is empty');
  return token;
}
