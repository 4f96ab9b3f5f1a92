import { BearerTokens } from '../../src/auth/bearerTokens.ts';

/** The secret every test server signs and checks Bearer tokens with (set by testApp and serverProcess). */
export const TEST_TOKEN_SECRET = 'test-only-bearer-token-secret-do-not-use-elsewhere';

/** The seeded admin's Bearer token (user 1, role ADMIN), as the test servers accept it: what a catalog admin's frontend sends with writes. */
export async function adminToken(): Promise<string> {
  return new BearerTokens({ secret: TEST_TOKEN_SECRET }).sign(1, { role: 'ADMIN' });
}

/** Bearer tokens of these users (role USER), as the test servers accept them. */
export async function tokensFor(...userIds: number[]): Promise<string[]> {
  const tokens = new BearerTokens({ secret: TEST_TOKEN_SECRET });
  return Promise.all(userIds.map((id) => tokens.sign(id)));
}
