import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { NESTED_QUERY, useTwoInstances, type TestApp } from '../support/testApp.ts';
import { ThrowawayCluster } from '../support/throwawayCluster.ts';

/**
 * The whole app on a real three-node Redis Cluster (REDIS_CLUSTER_NODES): reads, write-through and
 * tag invalidation, pub/sub between two instances, leases and buffered views, where no command may
 * span hash slots.
 */
describe('the app on Redis Cluster', () => {
  let cluster: ThrowawayCluster;
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => {
    cluster = await ThrowawayCluster.start();
  }, 60_000);
  // After-hooks run last first: the instances stop before the cluster does.
  afterAll(async () => {
    await cluster?.stop();
  });
  useTwoInstances(
    () => ({ REDIS_URL: undefined, REDIS_CLUSTER_NODES: cluster.startupNodes.map((n) => `${n.host}:${n.port}`).join(',') }),
    (pair) => ([a, b] = pair),
  );

  it('is ready with L3 up, and serves the nested query from L3 on a second instance with no SQL', async () => {
    const ready = (await (await fetch(`${a.url}/health/ready`)).json()) as { tiers: Record<string, string> };
    expect(ready.tiers).toEqual({ L2: 'up', L3: 'up' });
    const reference = (await a.query(NESTED_QUERY)).body;
    expect(reference.errors).toBeUndefined();
    await a.query(NESTED_QUERY);
    expect(await b.sqlDuring(async () => expect((await b.query(NESTED_QUERY)).body).toEqual(reference))).toBe(0);
    // Not the startup check's: those are about the throwaway cluster's settings (nothing on disk).
    expect(b.logs.filter((line) => line.level >= 40 && line.component !== 'redisRoles')).toEqual([]);
  });

  it('a write on A invalidates across slots and reaches B’s L2 over pub/sub', async () => {
    const { category, other, products } = await createCatalogFixture(a.app.database.prisma, { products: 2 });
    const id = String(products[0]!.id);
    const read = `query($id: ID!, $c: ID!) { product(id: $id) { name category { id } } category(id: $c) { products { id } } }`;
    for (const t of [a, b]) for (let i = 0; i < 2; i++) await t.query(read, { id, c: other.id });
    const moved = await a.mutate(`mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id } }`, {
      id,
      input: { name: 'Moved', categoryId: String(other.id) },
    });
    expect(moved.body.errors).toBeUndefined();
    const deadline = Date.now() + 2000;
    let seen: any;
    do seen = (await b.query(read, { id, c: other.id })).body.data;
    while (seen?.product.name !== 'Moved' && Date.now() < deadline);
    expect(seen.product).toEqual({ name: 'Moved', category: { id: String(other.id) } });
    expect(seen.category.products.map((p: { id: string }) => p.id)).toContain(id);
    expect(category.id).not.toBe(other.id);
  });

  it('buffers product views in the cluster and counts them in reads', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = String(products[0]!.id);
    for (let i = 0; i < 3; i++) await a.mutate(`mutation($id: ID!) { recordProductView(id: $id) }`, { id });
    expect((await b.query(`query($id: ID!) { product(id: $id) { viewCount } }`, { id })).body.data?.product.viewCount).toBe(3);
  });
});
