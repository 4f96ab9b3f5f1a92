import { InvalidTokenError } from '../errors.ts';
import type { BearerTokens } from './bearerTokens.ts';

/** Who is asking. `userId` null is an anonymous request: one that sent no Authorization header. */
export type Viewer = { readonly userId: number | null };

export const ANONYMOUS: Viewer = Object.freeze({ userId: null });

/**
 * The viewer an `Authorization` header names. No header is anonymous; a header that is there but
 * cannot be trusted throws {@link InvalidTokenError} rather than falling back to anonymous, so a
 * client with a broken token is told. Synchronous when the token was verified before.
 */
export function viewerFrom(authorization: string | undefined, tokens: BearerTokens): Viewer | Promise<Viewer> {
  if (authorization === undefined) return ANONYMOUS;
  const userId = tokens.verify(bearerToken(authorization));
  return typeof userId === 'number' ? { userId } : userId.then((id) => ({ userId: id }));
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
