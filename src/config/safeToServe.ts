import { ConfigError } from '../errors.ts';
import type { Config } from './config.ts';

/**
 * Refuses, with a {@link ConfigError}, to serve with the development token secret where anyone else
 * could reach the server: it is public (it is in the source), so it is only ever used outside
 * production, on a loopback interface. Checked by the server alone: the migrator, the seed and the
 * token script run in the same containers (HOST=0.0.0.0) and sign or serve nothing.
 */
export function assertSafeToServe(config: Pick<Config, 'authTokenSecret' | 'production' | 'host'>): void {
  if (config.authTokenSecret !== undefined) return;
  if (config.production) throw new ConfigError('AUTH_TOKEN_SECRET', undefined, 'must be set (32+ characters) when NODE_ENV=production');
  if (!isLoopback(config.host)) throw new ConfigError('AUTH_TOKEN_SECRET', undefined, `must be set (32+ characters) when HOST=${config.host} is not a loopback address`);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
