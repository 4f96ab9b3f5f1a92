/** Where a server under test keeps its data, and whose tokens it accepts: what the caller knows. */
export interface ServerServices {
  /** DATABASE_URL: the run's own database. */
  databaseUrl: string;
  /** REDIS_URL. */
  redisUrl: string;
  /** AUTH_TOKEN_SECRET: a secret of the tests' or the bench's own, so no development-secret warning in every log. */
  authTokenSecret: string;
}

/**
 * The environment a server under test runs with, in the tests (in process or as a child) and in the
 * bench: the given services, the response tier off, and `overrides` on top of all of it.
 */
export function serverEnvironment<Value extends string | undefined>(services: ServerServices, overrides: Record<string, Value>): Record<string, string | Value> {
  return {
    DATABASE_URL: services.databaseUrl,
    REDIS_URL: services.redisUrl,
    // Off unless a test or a section asks: most are about the data tiers, which a response hit would skip.
    RESPONSE_CACHE: 'off',
    AUTH_TOKEN_SECRET: services.authTokenSecret,
    ...overrides,
  };
}
