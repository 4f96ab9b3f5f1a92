// `npm run token -- 1 2 3`: prints `<id> <token>` per user id, signed with AUTH_TOKEN_SECRET, else the
// development secret. Each token carries the seeded user's role: user 1 is the admin.
import { BearerTokens, tokenSecret } from '../src/auth/bearerTokens.ts';
import { signSeededUser } from '../src/database/seedCatalog.ts';
import { loadConfig, type Config } from '../src/config/config.ts';
import { ConfigError } from '../src/errors.ts';

const USAGE = 'usage: npm run token -- <user id> [<user id> ...]';

const args = process.argv.slice(2);
if (args.length === 0) fail(USAGE);
// Every id is checked before any token is printed, so a typo never yields a partial list.
const userIds = args.map(parseUserId);

const { secret, development } = tokenSecret(config());
// stderr, so `npm run token -- 1 | ...` pipes only tokens.
if (development) console.error('AUTH_TOKEN_SECRET is unset: these tokens are signed with the development secret');
const tokens = new BearerTokens({ secret });
for (const userId of userIds) console.log(`${userId} ${await signSeededUser(tokens, userId)}`);

function parseUserId(arg: string): number {
  const userId = Number(arg);
  if (!/^[1-9][0-9]*$/.test(arg) || userId > 2_147_483_647) {
    fail(`${JSON.stringify(arg)} is not a user id (a whole number from 1 to 2147483647)\n${USAGE}`);
  }
  return userId;
}

function config(): Config {
  try {
    return loadConfig();
  } catch (error) {
    // A bad variable is the user's to fix: its message, not a stack trace.
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}
