import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { seededRandom } from '../support/seededRandom.ts';
import { startTestApp, useTwoInstances, type TestApp } from '../support/testApp.ts';

const PRODUCT = `query($id: ID!) { product(id: $id) { id name category { id } } }`;
const CATEGORY = `query($id: ID!) { category(id: $id) { products { id name } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id } }`;

/**
 * Concurrent readers and writers over two instances with the response tier on. At quiescence every
 * response either instance serves from its response tier (L2), and every response a new instance
 * finds in L3, must equal what the database says now.
 */
describe('randomised response coherence over two instances', () => {
  let apps: TestApp[];
  useTwoInstances({ RESPONSE_CACHE: 'on' }, (pair) => (apps = pair));

  it('finds 0 stale responses in L2 or L3 at quiescence', async () => {
    const prisma = apps[0]!.app.database.prisma;
    const { category, other, products } = await createCatalogFixture(prisma, { products: 6 });
    const ids = products.map((p) => String(p.id));
    const categories = [String(category.id), String(other.id)];
    const { next: random, pick: pickOne } = seededRandom(7);
    const deadline = Date.now() + 4000;
    let writes = 0;
    let reads = 0;

    async function reader(t: TestApp) {
      while (Date.now() < deadline) {
        await Promise.all([t.query(PRODUCT, { id: pickOne(ids) }), t.query(CATEGORY, { id: pickOne(categories) })]);
        reads += 2;
        await sleep(random() * 3);
      }
    }
    async function writer(t: TestApp) {
      while (Date.now() < deadline) {
        const input = random() < 0.3 ? { categoryId: pickOne(categories) } : { name: `n${Math.floor(random() * 1e6)}` };
        expect((await t.mutate(UPDATE, { id: pickOne(ids), input })).body.errors).toBeUndefined();
        writes += 1;
        await sleep(random() * 15);
      }
    }
    await Promise.all(apps.flatMap((t) => [reader(t), reader(t), reader(t), writer(t)]));
    // Quiescence: the last messages have arrived and the last L3 stores are done.
    await sleep(300);

    const truth = async (query: string, id: string) => {
      if (query === PRODUCT) {
        const row = await prisma.product.findUniqueOrThrow({ where: { id: Number(id) } });
        return { product: { id, name: row.name, category: { id: String(row.categoryId) } } };
      }
      const rows = await prisma.product.findMany({ where: { categoryId: Number(id) }, orderBy: { id: 'asc' }, take: 20 });
      return { category: { products: rows.map((row) => ({ id: String(row.id), name: row.name })) } };
    };
    // A third instance, with an empty L2: its hits come from L3.
    const fresh = await startTestApp({ CACHE_PREFIX: apps[0]!.prefix, RESPONSE_CACHE: 'on' });
    const stale: string[] = [];
    let hits = 0;
    try {
      for (const [query, values] of [
        [PRODUCT, ids],
        [CATEGORY, categories],
      ] as const) {
        for (const id of values) {
          const expected = JSON.stringify(await truth(query, id));
          for (const [name, t] of [
            ['A', apps[0]!],
            ['B', apps[1]!],
            ['new (L3)', fresh],
          ] as const) {
            const response = await t.query(query, { id });
            if (response.headers.get('x-response-cache') !== 'HIT') continue;
            hits += 1;
            if (JSON.stringify(response.body.data) !== expected) stale.push(`${name}: ${query.slice(6, 30)} ${id}: ${JSON.stringify(response.body.data)}, database ${expected}`);
          }
        }
      }
    } finally {
      await fresh.stop();
    }
    console.info(`randomised response coherence: ${writes} writes, ${reads} reads, ${hits} response-tier hits checked, ${stale.length} stale`);
    // Enough writes to land inside reads; a loaded machine (CI runs files in parallel) manages fewer.
    expect(writes).toBeGreaterThan(10);
    expect(hits).toBeGreaterThan(0);
    expect(stale).toEqual([]);
  });
});
