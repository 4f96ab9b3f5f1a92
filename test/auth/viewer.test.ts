import { describe, expect, it } from 'vitest';
import { BearerTokens } from '../../src/auth/bearerTokens.ts';
import { ANONYMOUS, viewerFrom } from '../../src/auth/viewer.ts';
import { InvalidTokenError } from '../../src/errors.ts';

const SECRET = 'test-secret-that-is-at-least-32-characters-long';

async function refusal(authorization: string, tokens = new BearerTokens({ secret: SECRET })): Promise<string> {
  try {
    await viewerFrom(authorization, tokens);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidTokenError);
    return (error as InvalidTokenError).reason;
  }
  throw new Error(`${JSON.stringify(authorization)} was accepted`);
}

describe('viewerFrom', () => {
  it('is anonymous without an Authorization header', () => {
    expect(viewerFrom(undefined, new BearerTokens({ secret: SECRET }))).toBe(ANONYMOUS);
    expect(ANONYMOUS).toEqual({ userId: null, role: null });
  });

  it('is the token’s user for `Bearer <token>`, whatever the case of the scheme', async () => {
    const tokens = new BearerTokens({ secret: SECRET });
    const token = await tokens.sign(4);
    for (const header of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`, ` Bearer ${token} `]) {
      expect(await viewerFrom(header, tokens)).toEqual({ userId: 4, role: 'USER' });
    }
  });

  it('is synchronous once the token is memoised', async () => {
    const tokens = new BearerTokens({ secret: SECRET });
    const header = `Bearer ${await tokens.sign(9)}`;
    const first = viewerFrom(header, tokens);
    expect(first).toBeInstanceOf(Promise);
    await first;
    expect(viewerFrom(header, tokens)).toEqual({ userId: 9, role: 'USER' });
  });

  it('refuses any other scheme, or none', async () => {
    const token = await new BearerTokens({ secret: SECRET }).sign(1);
    for (const header of ['', ' ', token, `Basic ${token}`, `Token ${token}`, `Bearer:${token}`, 'Basic dXNlcjpwYXNz']) {
      expect(await refusal(header)).toBe('Authorization header must be `Bearer <token>`');
    }
  });

  it('refuses an empty token', async () => {
    expect(await refusal('Bearer')).toBe('Bearer token is empty');
    expect(await refusal('Bearer   ')).toBe('Bearer token is empty');
  });

  it('refuses a bad token, saying why', async () => {
    const forged = await new BearerTokens({ secret: 'another-secret-that-is-also-32-characters-or-more' }).sign(1);
    expect(await refusal(`Bearer ${forged}`)).toBe('token signature is invalid');
    expect(await refusal('Bearer not-a-jwt')).toBe('token is not a well-formed JWT');
  });

  it('throws header errors synchronously, before any verification', () => {
    expect(() => viewerFrom('Basic abc', new BearerTokens({ secret: SECRET }))).toThrow(InvalidTokenError);
  });
});
