import { errors, jwtVerify, SignJWT } from 'jose';
import { LRUCache } from 'lru-cache';
import type { Config } from '../config/config.ts';
import { InvalidTokenError } from '../errors.ts';
import { roleClaim, roleFromClaim, type Role } from './roles.ts';

/**
 * Signs tokens when `AUTH_TOKEN_SECRET` is unset, so a fresh clone runs and its README can print
 * known tokens. Public, so anyone can forge any user with it: development only.
 */
export const DEVELOPMENT_TOKEN_SECRET = 'development-only-bearer-token-secret:never-use-in-production';

export interface BearerTokensOptions {
  /** The HMAC-SHA-256 key that signs and verifies every token, 32+ characters. See {@link tokenSecret}. */
  secret: string;
  /** How many verified tokens are remembered, so a token seen before is verified without crypto or await. @default 10000 */
  maxMemoisedTokens?: number;
}

export interface SignOptions {
  /** The token stops verifying this many seconds from now. Unset: it never expires, and is the same string every time. */
  expiresInSeconds?: number;
  /** What the token's holder may do. @default "USER" */
  role?: Role;
}

/** Who a verified token names, and what they may do. */
export interface TokenSubject {
  readonly userId: number;
  readonly role: Role;
}

/** Where the server and `npm run token` get the signing secret: the environment, else the development one. */
export function tokenSecret(config: Pick<Config, 'authTokenSecret'>): { secret: string; development: boolean } {
  return config.authTokenSecret === undefined ? { secret: DEVELOPMENT_TOKEN_SECRET, development: true } : { secret: config.authTokenSecret, development: false };
}

/**
 * HS256 JWTs whose `sub` is a user id. Verification is memoised per token string, because the same
 * few tokens arrive on every request and the memo hit must stay synchronous on the HTTP path.
 */
export class BearerTokens {
  readonly #key: Uint8Array;
  readonly #memo: LRUCache<string, Verified>;

  constructor(options: BearerTokensOptions) {
    this.#key = new TextEncoder().encode(getValidSecret(options));
    this.#memo = new LRUCache({ max: getValidMaxMemoisedTokens(options) });
  }

  async sign(userId: number, options?: SignOptions): Promise<string> {
    if (!isUserId(userId)) throw new TypeError(`userId must be a whole number from 1 to ${MAX_USER_ID}, got ${String(userId)}`);
    const expiresInSeconds = getValidExpiresInSeconds(options);
    const role = roleClaim(options?.role ?? 'USER');
    // No `iat` and no `jti`: without an expiry the same user, role and secret always give the same token.
    const jwt = new SignJWT(role === undefined ? {} : { role }).setProtectedHeader({ alg: ALGORITHM }).setSubject(String(userId));
    if (expiresInSeconds !== undefined) jwt.setExpirationTime(nowInSeconds() + expiresInSeconds);
    return jwt.sign(this.#key);
  }

  /**
   * The user and role a token was signed for. Synchronous when the token was verified before; a bad
   * token throws {@link InvalidTokenError}, synchronously when that is known from the memo, else by rejecting.
   */
  verify(token: string): TokenSubject | Promise<TokenSubject> {
    const memoised = this.#memo.get(token);
    if (memoised === undefined) return this.#verifySignature(token);
    // The memo outlives the token's validity: check `exp` again on every hit, as jose would.
    if (memoised.expiresAt !== undefined && memoised.expiresAt <= nowInSeconds()) {
      this.#memo.delete(token);
      throw new InvalidTokenError('token has expired');
    }
    return memoised.subject;
  }

  // Private:

  async #verifySignature(token: string): Promise<TokenSubject> {
    let payload;
    try {
      // Pinning the algorithm refuses `alg: none` and asymmetric headers before any key is used.
      ({ payload } = await jwtVerify(token, this.#key, { algorithms: [ALGORITHM] }));
    } catch (error) {
      throw invalidToken(error);
    }
    const userId = userIdFrom(payload.sub);
    if (userId === undefined) throw new InvalidTokenError(`token subject is not a user id from 1 to ${MAX_USER_ID}`);
    const role = roleFromClaim(payload.role);
    if (role === undefined) throw new InvalidTokenError('token claim "role" is not a known role');
    const subject: TokenSubject = Object.freeze({ userId, role });
    // Only successes are memoised: a refused token is checked in full every time it is sent.
    this.#memo.set(token, { subject, expiresAt: payload.exp });
    return subject;
  }
}

// Private:

const ALGORITHM = 'HS256';
const MIN_SECRET_LENGTH = 32;

/** User ids are PostgreSQL INTEGERs: a `sub` beyond them names nobody, and must never reach a query. */
const MAX_USER_ID = 2_147_483_647;

interface Verified {
  readonly subject: TokenSubject;
  /** The token's `exp`, in seconds since the epoch. */
  readonly expiresAt: number | undefined;
}

// Seconds, floored, the way jose compares `exp`, so the memo and jose expire a token at the same instant.
function nowInSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function isUserId(value: number): boolean {
  return Number.isSafeInteger(value) && value > 0 && value <= MAX_USER_ID;
}

function userIdFrom(subject: unknown): number | undefined {
  // A string (RFC 7519 §4.1.2; jose does not check), in canonical decimal only, so one user has
  // exactly one `sub` spelling: `1`, `["1"]` would otherwise pass as "1".
  if (typeof subject !== 'string' || !/^[1-9][0-9]*$/.test(subject)) return undefined;
  const userId = Number(subject);
  return isUserId(userId) ? userId : undefined;
}

/** Says what is wrong with a refused token; anything that is not a jose verdict is a bug and passes through. */
function invalidToken(error: unknown): unknown {
  const options = { cause: error };
  if (error instanceof errors.JWTExpired) return new InvalidTokenError('token has expired', options);
  if (error instanceof errors.JWSSignatureVerificationFailed) return new InvalidTokenError('token signature is invalid', options);
  if (error instanceof errors.JOSEAlgNotAllowed) return new InvalidTokenError(`token must be signed with ${ALGORITHM}`, options);
  if (error instanceof errors.JWTClaimValidationFailed) return new InvalidTokenError(`token claim "${error.claim}" is not valid`, options);
  if (error instanceof errors.JOSEError) return new InvalidTokenError('token is not a well-formed JWT', options);
  return error;
}

function getValidSecret(options: BearerTokensOptions): string {
  const { secret } = options;
  if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) {
    // The value is a secret: name the option and the rule, never the value.
    throw new TypeError(`secret must be a string of at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

function getValidMaxMemoisedTokens(options: BearerTokensOptions): number {
  const { maxMemoisedTokens = 10_000 } = options;
  if (!Number.isSafeInteger(maxMemoisedTokens) || maxMemoisedTokens < 1) {
    throw new TypeError(`maxMemoisedTokens must be a positive whole number, got ${String(maxMemoisedTokens)}`);
  }
  return maxMemoisedTokens;
}

function getValidExpiresInSeconds(options: SignOptions | undefined): number | undefined {
  const expiresInSeconds = options?.expiresInSeconds;
  if (expiresInSeconds === undefined) return undefined;
  if (!Number.isSafeInteger(expiresInSeconds) || expiresInSeconds < 1) {
    throw new TypeError(`expiresInSeconds must be a positive whole number, got ${String(expiresInSeconds)}`);
  }
  return expiresInSeconds;
}
