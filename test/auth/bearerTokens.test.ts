import { base64url, SignJWT, UnsecuredJWT } from 'jose';
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { BearerTokens, DEVELOPMENT_TOKEN_SECRET, tokenSecret } from '../../src/auth/bearerTokens.ts';
import { InvalidTokenError } from '../../src/errors.ts';

const SECRET = 'test-secret-that-is-at-least-32-characters-long';
const OTHER_SECRET = 'another-secret-that-is-also-32-characters-or-more';

function bearerTokens(secret = SECRET): BearerTokens {
  return new BearerTokens({ secret });
}

/** A token signed by hand with jose, for claims and headers `sign()` never produces. */
function craft(claims: Record<string, unknown>, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

async function refusal(verification: () => unknown): Promise<InvalidTokenError> {
  try {
    await verification();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    return error as InvalidTokenError;
  }
  throw new Error('the token was accepted');
}

const nowInSeconds = () => Math.floor(Date.now() / 1000);

describe('BearerTokens', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('verifies the tokens it signs, to the user id they were signed for', async () => {
    const tokens = bearerTokens();
    expect(await tokens.verify(await tokens.sign(1))).toEqual({ userId: 1, role: 'USER' });
    expect(await tokens.verify(await tokens.sign(42, { expiresInSeconds: 60 }))).toEqual({ userId: 42, role: 'USER' });
  });

  it('carries the admin role in a `role` claim, and only the admin role', async () => {
    const tokens = bearerTokens();
    const admin = await tokens.sign(1, { role: 'ADMIN' });
    expect(await tokens.verify(admin)).toEqual({ userId: 1, role: 'ADMIN' });
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(admin.split('.')[1] as string)))).toEqual({ sub: '1', role: 'admin' });
    // A USER token is the same string it was before roles existed.
    expect(await tokens.sign(1, { role: 'USER' })).toBe(await tokens.sign(1));
  });

  it('refuses a token whose role claim is not a known role', async () => {
    for (const role of ['root', 'ADMIN', '', 1, null, ['admin']]) {
      const error = await refusal(async () => bearerTokens().verify(await craft({ sub: '1', role })));
      expect(error.reason).toBe('token claim "role" is not a known role');
    }
  });

  it('signs the same user under the same secret to the same string, so demo tokens can be printed', async () => {
    const token = await bearerTokens().sign(7);
    expect(await new BearerTokens({ secret: SECRET }).sign(7)).toBe(token);
    expect(await bearerTokens().sign(8)).not.toBe(token);
    expect(await bearerTokens(OTHER_SECRET).sign(7)).not.toBe(token);
    // No iat, no jti: only the subject.
    expect(JSON.parse(new TextDecoder().decode(base64url.decode(token.split('.')[1] as string)))).toEqual({ sub: '7' });
  });

  it('verifies a memoised token synchronously', async () => {
    const tokens = bearerTokens();
    const token = await tokens.sign(3);
    const first = tokens.verify(token);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual({ userId: 3, role: 'USER' });
    expect(tokens.verify(token)).toEqual({ userId: 3, role: 'USER' });
  });

  it('refuses a token signed with another secret', async () => {
    const forged = await bearerTokens(OTHER_SECRET).sign(1);
    const error = await refusal(() => bearerTokens().verify(forged));
    expect(error).toMatchObject({ code: 'UNAUTHENTICATED', reason: 'token signature is invalid' });
  });

  it('refuses a token whose payload was changed after signing', async () => {
    const [header, , signature] = (await bearerTokens().sign(1)).split('.');
    const payload = base64url.encode(JSON.stringify({ sub: '2' }));
    const error = await refusal(() => bearerTokens().verify(`${header}.${payload}.${signature}`));
    expect(error.reason).toBe('token signature is invalid');
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const unsigned = new UnsecuredJWT({ sub: '1' }).encode();
    const error = await refusal(() => bearerTokens().verify(unsigned));
    expect(error.reason).toBe('token must be signed with HS256');
  });

  it('refuses a token signed with another algorithm (RS256)', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rs256 = await new SignJWT({ sub: '1' }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const error = await refusal(() => bearerTokens().verify(rs256));
    expect(error.reason).toBe('token must be signed with HS256');
  });

  it('refuses an expired token', async () => {
    const expired = await craft({ sub: '1', exp: nowInSeconds() - 1 });
    const error = await refusal(() => bearerTokens().verify(expired));
    expect(error.reason).toBe('token has expired');
  });

  it('refuses a memoised token once it has expired', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const tokens = bearerTokens();
    const token = await tokens.sign(5, { expiresInSeconds: 60 });
    expect(await tokens.verify(token)).toEqual({ userId: 5, role: 'USER' });
    expect(tokens.verify(token)).toEqual({ userId: 5, role: 'USER' });
    vi.setSystemTime(Date.now() + 60_000);
    expect(() => tokens.verify(token)).toThrow(expect.objectContaining({ reason: 'token has expired' }));
    // Dropped from the memo: jose refuses it too.
    expect((await refusal(() => tokens.verify(token))).reason).toBe('token has expired');
  });

  it('refuses a token whose subject is not a user id, or one beyond PostgreSQL INTEGER', async () => {
    const claimsList = [{}, { sub: 'alice' }, { sub: '0' }, { sub: '-1' }, { sub: '01' }, { sub: '1.5' }, { sub: '9007199254740993' }, { sub: '2147483648' }, { sub: 1 }, { sub: ['1'] }, { sub: [1] }];
    for (const claims of claimsList) {
      const error = await refusal(async () => bearerTokens().verify(await craft(claims)));
      expect(error.reason).toBe('token subject is not a user id from 1 to 2147483647');
    }
    expect(await bearerTokens().verify(await craft({ sub: '2147483647' }))).toEqual({ userId: 2_147_483_647, role: 'USER' });
  });

  it('refuses text that is not a JWT', async () => {
    for (const text of ['', 'abc', 'a.b.c', 'a.b', 'not a token']) {
      const error = await refusal(() => bearerTokens().verify(text));
      expect(error.reason).toBe('token is not a well-formed JWT');
    }
  });

  it('never memoises a refusal', async () => {
    const tokens = bearerTokens();
    const forged = await bearerTokens(OTHER_SECRET).sign(1);
    await refusal(() => tokens.verify(forged));
    const again = tokens.verify(forged);
    expect(again).toBeInstanceOf(Promise);
    await refusal(() => again);
  });

  it('names the bad option or argument', async () => {
    expect(() => new BearerTokens({ secret: 'short' })).toThrow(/secret must be a string of at least 32 characters/);
    expect(() => new BearerTokens({ secret: SECRET, maxMemoisedTokens: 0 })).toThrow(/maxMemoisedTokens .* got 0/);
    await expect(bearerTokens().sign(0)).rejects.toThrow(/userId .* got 0/);
    await expect(bearerTokens().sign(2_147_483_648)).rejects.toThrow(/userId .* got 2147483648/);
    await expect(bearerTokens().sign(1.5)).rejects.toThrow(/userId .* got 1.5/);
    await expect(bearerTokens().sign(1, { expiresInSeconds: -5 })).rejects.toThrow(/expiresInSeconds .* got -5/);
  });
});

describe('tokenSecret', () => {
  it('is AUTH_TOKEN_SECRET when set, else the development secret, flagged', () => {
    expect(tokenSecret({ authTokenSecret: SECRET })).toEqual({ secret: SECRET, development: false });
    expect(tokenSecret({ authTokenSecret: undefined })).toEqual({ secret: DEVELOPMENT_TOKEN_SECRET, development: true });
    expect(DEVELOPMENT_TOKEN_SECRET.length).toBeGreaterThanOrEqual(32);
  });
});
