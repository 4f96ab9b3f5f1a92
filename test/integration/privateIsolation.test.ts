import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerProcess, type ServerProcess } from '../support/serverProcess.ts';
import { deletePrefix, uniquePrefix } from '../support/testApp.ts';
import { tokensFor } from '../support/tokens.ts';

/**
 * Private data never reaches another viewer: two users and an anonymous client, 1,000 interleaved
 * requests over two real server processes with every tier and the response tier on, the same few
 * requests over and over so that nearly all of them are hits. Every response is checked for an
 * email that is not its viewer's own.
 */
const USERS = [1, 2] as const;
const REQUESTS = 1000;

describe('private responses across viewers and instances', () => {
  const prefix = uniquePrefix();
  let servers: ServerProcess[] = [];
  let tokens: Map<number, string>;
  beforeAll(async () => {
    servers = await Promise.all([1, 2].map(() => startServerProcess({ CACHE_PREFIX: prefix, RESPONSE_CACHE: 'on', LOG_LEVEL: 'info' })));
    const signed = await tokensFor(...USERS);
    tokens = new Map(USERS.map((id, i) => [id, signed[i] as string]));
  }, 60_000);
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await deletePrefix(prefix);
  });

  it(`finds 0 responses carrying another viewer's private data in ${REQUESTS} interleaved requests`, async () => {
    const queries = [
      `{ me { id name email } }`,
      `{ user(id: 1) { id name email } }`,
      `{ user(id: 2) { id email } }`,
      `{ me { id } user(id: 1) { email } product(id: "3") { id name } }`,
      `{ product(id: "3") { id name } }`,
    ];
    const viewers: Array<number | null> = [1, 2, null];
    let leaks = 0;
    let hits = 0;
    const leaked: string[] = [];
    // Interleaved: every viewer asks every query on both servers, in a shuffled order, 20 at a time.
    const plan = Array.from({ length: REQUESTS }, (_, i) => ({ viewer: viewers[i % 3] as number | null, query: queries[(i * 7) % queries.length] as string, server: servers[(i >> 1) % 2] as ServerProcess }));
    for (let i = 0; i < plan.length; i += 20) {
      await Promise.all(
        plan.slice(i, i + 20).map(async ({ viewer, query, server }) => {
          const response = await fetch(`${server.url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(viewer === null ? {} : { authorization: `Bearer ${tokens.get(viewer)}` }) },
            body: JSON.stringify({ query }),
          });
          if (response.headers.get('x-response-cache') === 'HIT') hits += 1;
          const body = (await response.json()) as { data: { me?: { id: string; email?: string | null } | null; user?: { id?: string; email: string | null } } };
          expect(body).not.toHaveProperty('errors');
          const emails = [body.data.me?.email, body.data.user?.email].filter((e) => e !== undefined && e !== null);
          const mine = viewer === null ? [] : [`user${viewer}@example.com`];
          const meWrong = body.data.me !== undefined && (viewer === null ? body.data.me !== null : body.data.me?.id !== String(viewer));
          if (meWrong || emails.some((email) => !mine.includes(email))) {
            leaks += 1;
            leaked.push(`viewer ${viewer} got ${JSON.stringify(body.data)} for ${query}`);
          }
        }),
      );
    }
    console.info(`private isolation: ${REQUESTS} requests, ${hits} response-tier hits, ${leaks} leaks`);
    expect(leaked).toEqual([]);
    expect(leaks).toBe(0);
    // The tier really was serving: most requests repeat one already answered.
    expect(hits).toBeGreaterThan(REQUESTS / 2);
  });
});
