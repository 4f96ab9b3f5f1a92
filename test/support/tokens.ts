import { BearerTokens } from '../../src/auth/bearerTokens.ts';

/** The secret every test server signs and checks Bearer tokens with (set by testApp and serverProcess). */
export const TEST_TOKEN_SECRET = 'test-only-bearer-token-secret-do-not-use-elsewhere';

/** Bearer tokens of these users, as the test servers accept them. */
export async function tokensFor(...userIds: number[]): Promise<string[]> {
  const tokens = new BearerTokens({ secret: TEST_TOKEN_SECRET });
  return Promise.all(userIds.map((id) => tokens.sign(id)));
}
