import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NESTED_QUERY, useTestApp } from '../support/testApp.ts';

describe('health endpoints', () => {
  const app = useTestApp();

  it('live and ready answer 200 with the tiers’ state', async () => {
    expect((await fetch(`${app().url}/health/live`)).status).toBe(200);
    const ready = await fetch(`${app().url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', database: 'up', tiers: { L2: 'up', L3: 'up' } });
  });

  it('GET /graphql works (with the CSRF preflight header Apollo requires)', async () => {
    const url = `${app().url}/graphql?query=${encodeURIComponent('{ product(id: 1) { id } }')}`;
    expect((await fetch(url)).status).toBe(400);
    const response = await fetch(url, { headers: { 'apollo-require-preflight': 'true' } });
    expect(await response.json()).toEqual({ data: { product: { id: '1' } } });
  });

  it('an unknown path is a 404 that points at /graphql', async () => {
    const response = await fetch(`${app().url}/nope`);
    expect(response.status).toBe(404);
    expect(JSON.stringify(await response.json())).toContain('/graphql');
  });
});

/** The real entry point, as a user runs it: `npm start` with nothing configured. */
describe('npm start', () => {
  function start(env: Record<string, string>) {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const listening = new Promise<string>((resolve, reject) => {
      child.stdout.on('data', () => {
        const match = /"url":"([^"]+)"/.exec(output);
        if (match) resolve(match[1]!);
      });
      void exited.then((code) => reject(new Error(`exited with ${code}:\n${output}`)));
    });
    // A test that expects the process to exit never awaits `listening`.
    listening.catch(() => {});
    return { child, exited, listening, output: () => output };
  }

  it('with no DATABASE_URL and no REDIS_URL serves the nested query from the embedded database, and stops on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'pglite-'));
    const server = start({ PORT: '0', PGLITE_DATA_DIR: dataDir, SEED_PRODUCTS: '40' });
    const url = await server.listening;
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: NESTED_QUERY }) });
    const body = (await response.json()) as { data: { products: Array<{ reviews: unknown[] }> } };
    expect(body.data.products).toHaveLength(20);
    expect(body.data.products[0]!.reviews).toHaveLength(5);
    const signalled = performance.now();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    // Drains and closes its connections rather than waiting for idle timeouts.
    expect(performance.now() - signalled).toBeLessThan(5000);
    expect(server.output()).toContain('shutting down');
  }, 60_000);

  it('a bad variable stops startup with a message naming it', async () => {
    const server = start({ PORT: 'eighty' });
    expect(await server.exited).toBe(1);
    expect(server.output()).toContain('Invalid configuration: PORT="eighty": must be a whole number');
  }, 30_000);

  it('refuses to serve on the public development secret in production or off loopback, naming AUTH_TOKEN_SECRET', async () => {
    for (const env of [{ NODE_ENV: 'production' }, { HOST: '0.0.0.0' }] as Record<string, string>[]) {
      const server = start({ PORT: '0', ...env });
      expect(await server.exited).toBe(1);
      expect(server.output()).toMatch(/Invalid configuration: AUTH_TOKEN_SECRET=null: must be set \(32\+ characters\) when (NODE_ENV=production|HOST=0\.0\.0\.0 is not a loopback address)/);
    }
  }, 30_000);
});
