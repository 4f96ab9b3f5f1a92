import { ConfigError } from '../errors.ts';
import { oneOf, text, type Env } from './environment.ts';

/** What the server tells operators about its caches (see observability/). */
export interface ObservabilityOptions {
  /** `METRICS`: `on` serves Prometheus metrics on {@link ObservabilityOptions.metricsPath}; `off` counts nothing. @default "on" */
  metrics: boolean;
  /** `METRICS_PATH`: where the metrics are served, an absolute path that no other route uses. @default "/metrics" */
  metricsPath: string;
  /**
   * `CACHE_DEBUG`: `on` lets a request with the header `x-cache-debug: 1` get `extensions.cache`
   * (response-tier hit or miss, and per kind the hits per tier and the database loads). Such a
   * response is sent `no-store` and never stored.
   * @default "on", or "off" with `NODE_ENV=production`
   */
  cacheDebug: boolean;
}

/** Paths the server routes itself: the metrics may not take one. */
const TAKEN_PATHS = ['/graphql', '/health/live', '/health/ready'];

/** Reads {@link ObservabilityOptions}; a bad value throws a ConfigError naming it. */
export function readObservabilityOptions(env: Env): ObservabilityOptions {
  const metricsPath = text(env, 'METRICS_PATH', '/metrics');
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(metricsPath)) throw new ConfigError('METRICS_PATH', metricsPath, 'must be an absolute path such as /metrics, without a query string');
  if (TAKEN_PATHS.includes(metricsPath)) throw new ConfigError('METRICS_PATH', metricsPath, `must not be one of the server's own routes (${TAKEN_PATHS.join(', ')})`);
  return {
    metrics: oneOf(env, 'METRICS', ['on', 'off'], 'on') === 'on',
    metricsPath,
    cacheDebug: oneOf(env, 'CACHE_DEBUG', ['on', 'off'], env.NODE_ENV === 'production' ? 'off' : 'on') === 'on',
  };
}
