import { describe, expect, it } from 'vitest';
import { CatalogQueries } from '../../src/catalog/queries.ts';
import type { ProductRecord } from '../../src/catalog/records.ts';
import { createCatalogFixture } from '../support/fixtures.ts';
import { useTwoInstances, type TestApp } from '../support/testApp.ts';

/**
 * No stale fill: a reader that loads a row just before a write commits must not be able to cache
 * that old row after the writer has invalidated it. The interleaving is forced with a gate inside
 * the reader's load; the tiers, Redis, pub/sub and PostgreSQL are all real.
 */
describe('no stale fill', () => {
  let a: TestApp;
  let b: TestApp;
  useTwoInstances({}, (pair) => ([a, b] = pair));

  /** Starts a read of `id` through `reader`'s read-through whose load pauses after reading the row. */
  function gatedRead(reader: TestApp, id: number) {
    let loaded!: () => void;
    let release!: () => void;
    const rowRead = new Promise<void>((resolve) => (loaded = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const queries = new CatalogQueries(reader.app.database.prisma);
    const address = reader.app.addresses.entity('Product', id);
    const result = reader.app.cache.readThrough.getMany(reader.app.kinds.Product, [{ item: id, ...address }], async (ids) => {
      const rows = await queries.productsByIds(ids);
      loaded();
      await gate;
      return ids.map((i) => rows.find((r) => r.id === i) ?? null);
    });
    return { rowRead, release, result, address };
  }

  /** What each tier would serve for the product now (undefined: a miss). */
  async function cached(t: TestApp, id: number): Promise<{ L2: ProductRecord | null | undefined; L3: ProductRecord | null | undefined }> {
    const address = t.app.addresses.entity('Product', id);
    const kind = t.app.kinds.Product;
    const l2 = (await t.app.cache.local!.getMany([address], kind)).entries[0];
    const l3 = (await t.app.cache.shared!.getMany([address], kind)).entries[0];
    return { L2: l2?.value, L3: l3?.value };
  }

  const rename = (t: TestApp, id: number, name: string) =>
    t.mutate(`mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { name } }`, {
      id: String(id),
      input: { name },
    });

  it('a write on the same instance, between the reader’s load and its fill', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = products[0]!.id;
    const read = gatedRead(a, id);
    await read.rowRead;
    expect((await rename(a, id, 'After')).body.errors).toBeUndefined();
    read.release();
    // The reader gets the row it read; it just may not cache it.
    expect((await read.result)[0]?.name).toBe(products[0]!.name);

    for (const t of [a, b]) {
      const tiers = await cached(t, id);
      for (const value of [tiers.L2, tiers.L3]) if (value !== undefined) expect(value?.name).toBe('After');
      expect((await t.query(`query($id: ID!) { product(id: $id) { name } }`, { id: String(id) })).body.data?.product.name).toBe('After');
    }
  });

  it('a write on another instance, whose invalidation reaches the reader’s instance before its fill', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = products[0]!.id;
    const read = gatedRead(a, id);
    await read.rowRead;
    expect((await rename(b, id, 'After on B')).body.errors).toBeUndefined();
    // Let the pub/sub message arrive at A before A fills.
    await new Promise((resolve) => setTimeout(resolve, 50));
    read.release();
    await read.result;

    for (const t of [a, b]) {
      const tiers = await cached(t, id);
      for (const value of [tiers.L2, tiers.L3]) if (value !== undefined) expect(value?.name).toBe('After on B');
      expect((await t.query(`query($id: ID!) { product(id: $id) { name } }`, { id: String(id) })).body.data?.product.name).toBe('After on B');
    }
  });

  it('a fill that lands before the invalidation is dropped by it', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = products[0]!.id;
    const read = gatedRead(a, id);
    await read.rowRead;
    read.release();
    await read.result;
    expect((await cached(a, id)).L2?.name).toBe(products[0]!.name);
    expect((await rename(b, id, 'Later')).body.errors).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const tiers = await cached(a, id);
    for (const value of [tiers.L2, tiers.L3]) if (value !== undefined) expect(value?.name).toBe('Later');
  });

  it('two writers: the slower one’s write-through, after the faster one’s invalidation, is refused in every tier', async () => {
    const { products } = await createCatalogFixture(a.app.database.prisma, { products: 1 });
    const id = products[0]!.id;
    const address = a.app.addresses.entity('Product', id);
    const older = await a.app.database.prisma.product.update({ where: { id }, data: { name: 'Older write', version: { increment: 1 } } });
    // Writer 1 (on A) invalidates for its commit...
    const after = await a.app.cache.invalidator.invalidate([`Product:${id}`]);
    // ...writer 2 (on B) commits a newer row and invalidates, and A hears it, before writer 1 writes through.
    await a.app.database.prisma.product.update({ where: { id }, data: { name: 'Newer write', version: { increment: 1 } } });
    await b.app.cache.invalidator.invalidate([`Product:${id}`]);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await a.app.cache.readThrough.writeThrough(a.app.kinds.Product, [{ ...address, value: older }], after);
    for (const tier of [a.app.cache.local!, a.app.cache.shared!]) {
      const { entries } = await tier.getMany([address], a.app.kinds.Product);
      expect(entries[0], tier.name).toBeUndefined();
    }
    const read = await a.query(`query($id: ID!) { product(id: $id) { name } }`, { id: String(id) });
    expect(read.body.data?.product.name).toBe('Newer write');
  });
});
