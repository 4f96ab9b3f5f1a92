import { ConfigError } from '../errors.ts';

/** The variables a configuration is read from: `process.env`, or a test's own. */
export type Env = Record<string, string | undefined>;

// One reader per kind of value, each naming the variable in its error.

export function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, env[name], 'must be a whole number');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, env[name], `must be from ${min} to ${max}`);
  return n;
}

export function decimal(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(value)) throw new ConfigError(name, env[name], 'must be a non-negative number');
  const n = Number(value);
  if (n < min || n > max) throw new ConfigError(name, env[name], `must be from ${min} to ${max}`);
  return n;
}

export function text(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

export function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, env[name], `must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

export function headerName(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  // RFC 9110 token characters: anything else is not a header name.
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) throw new ConfigError(name, env[name], 'is not an HTTP header name');
  return value;
}

export function origins(env: Env, name: string): ReadonlySet<string> {
  const value = raw(env, name);
  if (value === undefined) return new Set();
  const list = value
    .split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  for (const origin of list) {
    if (origin === '*') throw new ConfigError(name, env[name], 'must list exact origins; "*" is refused');
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = undefined;
    }
    // What a browser sends in Origin, to the byte: a path, a trailing slash or capitals would never match it.
    if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) {
      const hint = parsed && parsed.origin !== 'null' ? ` (did you mean ${parsed.origin}?)` : '';
      throw new ConfigError(name, env[name], `"${origin}" is not an origin: http(s)://host[:port], no path${hint}`);
    }
  }
  return new Set(list);
}

export function secret(env: Env, name: string, minLength: number): string | undefined {
  const value = raw(env, name);
  if (value !== undefined && value.length < minLength) throw new ConfigError(name, '(hidden)', `must be at least ${minLength} characters`);
  return value;
}

export function url(env: Env, name: string, protocols: string[]): string | undefined {
  const value = raw(env, name);
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, env[name], 'is not a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, env[name], `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  }
  return value;
}
