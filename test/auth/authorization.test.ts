import { describe, expect, it } from 'vitest';
import { createCatalogFixture } from '../support/fixtures.ts';
import { useTestApp } from '../support/testApp.ts';
import { adminToken, tokensFor } from '../support/tokens.ts';

const CREATE_PRODUCT = `mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }`;
const UPDATE_PRODUCT = `mutation($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { id name } }`;
const DELETE_PRODUCT = `mutation($id: ID!) { deleteProduct(id: $id) }`;
const CREATE_REVIEW = `mutation($input: CreateReviewInput!) { createReview(input: $input) { id author { id } } }`;
const DELETE_REVIEW = `mutation($id: ID!) { deleteReview(id: $id) }`;
const VIEW = `mutation($id: ID!) { recordProductView(id: $id) }`;

describe('authorization: the schema’s @auth, checked before anything runs', () => {
  const app = useTestApp();
  const prisma = () => app().app.database.prisma;

  async function catalogWrites(tag: string, productId: number, categoryId: number) {
    return [
      [CREATE_PRODUCT, { input: { sku: `AUTH-${tag}`, name: 'Nope', description: '', priceCents: 1, stock: 1, categoryId: String(categoryId) } }],
      [UPDATE_PRODUCT, { id: String(productId), input: { name: 'Defaced' } }],
      [DELETE_PRODUCT, { id: String(productId) }],
    ] as const;
  }

  it('refuses every catalog write from an anonymous viewer with 401, and writes nothing', async () => {
    const { tag, category, products } = await createCatalogFixture(prisma(), { products: 1 });
    const product = products[0]!;
    for (const [mutation, variables] of await catalogWrites(tag, product.id, category.id)) {
      const refused = await app().query(mutation, variables);
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toBe('Bearer');
      expect(refused.body.data).toBeUndefined();
      expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED', requiredRole: 'ADMIN' } });
      expect(refused.body.errors?.[0]?.message).toMatch(/Field "Mutation\.\w+Product" requires a signed-in viewer with role ADMIN/);
    }
    expect(await prisma().product.findUnique({ where: { id: product.id } })).toMatchObject({ name: product.name, version: product.version });
    expect(await prisma().product.count({ where: { sku: `AUTH-${tag}` } })).toBe(0);
  });

  it('refuses every catalog write from a signed-in viewer without the admin role with 403, and writes nothing', async () => {
    const { tag, category, products } = await createCatalogFixture(prisma(), { products: 1 });
    const product = products[0]!;
    const [user] = await tokensFor(2);
    for (const [mutation, variables] of await catalogWrites(tag, product.id, category.id)) {
      const refused = await app().query(mutation, variables, user);
      expect(refused.status).toBe(403);
      expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
      expect(refused.body.errors?.[0]?.message).toMatch(/requires role ADMIN; the viewer's role is USER/);
    }
    expect(await prisma().product.findUnique({ where: { id: product.id } })).toMatchObject({ name: product.name, version: product.version });
    expect(await prisma().product.count({ where: { sku: `AUTH-${tag}` } })).toBe(0);
  });

  it('lets the admin make catalog writes', async () => {
    const { products } = await createCatalogFixture(prisma(), { products: 1 });
    const updated = await app().query(UPDATE_PRODUCT, { id: String(products[0]!.id), input: { name: 'By the admin' } }, await adminToken());
    expect(updated.body).toEqual({ data: { updateProduct: { id: String(products[0]!.id), name: 'By the admin' } } });
  });

  it('finds a guarded field behind an alias, a fragment or an inline fragment, and among other fields', async () => {
    const { products } = await createCatalogFixture(prisma(), { products: 1 });
    const id = String(products[0]!.id);
    for (const mutation of [
      `mutation { gone: deleteProduct(id: "${id}") }`,
      `mutation { ...Wipe } fragment Wipe on Mutation { deleteProduct(id: "${id}") }`,
      `mutation { ... on Mutation { deleteProduct(id: "${id}") } }`,
      `mutation { recordProductView(id: "${id}") deleteProduct(id: "${id}") }`,
      `mutation($skip: Boolean = true) { deleteProduct(id: "${id}") @skip(if: $skip) }`,
    ]) {
      const refused = await app().query(mutation);
      expect(refused.status, mutation).toBe(401);
    }
    // Nothing ran, not even the open field beside the guarded one (viewCount counts buffered views too).
    expect((await app().query(`query($id: ID!) { product(id: $id) { viewCount } }`, { id })).body.data?.product.viewCount).toBe(0);
  });

  it('judges only the operation that runs: a query beside a guarded mutation in one document is served', async () => {
    const document = `query Read { product(id: "1") { id } } mutation Wipe { deleteProduct(id: "1") }`;
    const response = await fetch(`${app().url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: document, operationName: 'Read' }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { product: { id: '1' } } });
  });

  it('writes a review as its viewer; another author’s name only by an admin', async () => {
    const { products } = await createCatalogFixture(prisma(), { products: 1 });
    const productId = String(products[0]!.id);
    const [user7] = await tokensFor(7);
    const review = (input: Record<string, unknown>) => ({ input: { productId, rating: 4, body: 'Fine.', ...input } });

    expect((await app().query(CREATE_REVIEW, review({}))).status).toBe(401);
    const own = await app().query(CREATE_REVIEW, review({}), user7);
    expect(own.body.data?.createReview.author).toEqual({ id: '7' });
    const named = await app().query(CREATE_REVIEW, review({ authorId: '7' }), user7);
    expect(named.body.data?.createReview.author).toEqual({ id: '7' });

    const impersonation = await app().query(CREATE_REVIEW, review({ authorId: '8' }), user7);
    expect(impersonation.body.data).toBeNull();
    expect(impersonation.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN', field: 'input.authorId' } });
    expect(await prisma().review.count({ where: { productId: Number(productId), authorId: 8 } })).toBe(0);

    const byAdmin = await app().query(CREATE_REVIEW, review({ authorId: '8' }), await adminToken());
    expect(byAdmin.body.data?.createReview.author).toEqual({ id: '8' });
  });

  it('deletes a review only for its author or an admin', async () => {
    const { products } = await createCatalogFixture(prisma(), { products: 1 });
    const [user7, user9] = await tokensFor(7, 9);
    const write = async () => (await app().query(CREATE_REVIEW, { input: { productId: String(products[0]!.id), rating: 3, body: 'Mine.' } }, user7)).body.data?.createReview.id as string;

    const id = await write();
    const refused = await app().query(DELETE_REVIEW, { id }, user9);
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await prisma().review.count({ where: { id: Number(id) } })).toBe(1);
    expect((await app().query(DELETE_REVIEW, { id }, user7)).body.data).toEqual({ deleteReview: true });

    const other = await write();
    expect((await app().query(DELETE_REVIEW, { id: other }, await adminToken())).body.data).toEqual({ deleteReview: true });
    expect(await prisma().review.count({ where: { id: Number(other) } })).toBe(0);
  });

  it('never lets a non-author delete a review that did not exist when it first asked', async () => {
    // The reviewer's attack: ask to delete ids that do not exist yet, so that a check made before
    // the DELETE sees nothing (here, an absence the cache now holds), then ask again once another
    // user's review has that id.
    const { products } = await createCatalogFixture(prisma(), { products: 1 });
    const [user9] = await tokensFor(9);
    const id = 2_000_000_000 + Math.floor(Math.random() * 100_000_000);
    expect((await app().query(DELETE_REVIEW, { id: String(id) }, user9)).body.data).toEqual({ deleteReview: false });
    await prisma().review.create({ data: { id, productId: products[0]!.id, authorId: 7, rating: 5, body: 'Not yours.' } });
    const refused = await app().query(DELETE_REVIEW, { id: String(id) }, user9);
    expect(refused.body.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(await prisma().review.count({ where: { id } })).toBe(1);
    await prisma().review.delete({ where: { id } });
  });

  it('keeps page views open to anonymous viewers, a few per request', async () => {
    const { products } = await createCatalogFixture(prisma(), { products: 1 });
    const id = String(products[0]!.id);
    expect((await app().query(VIEW, { id })).body.data).toEqual({ recordProductView: true });

    // The attack: one anonymous request with 500 aliased views (past the token limit already), and
    // smaller floods that each meet one limit.
    const flood = (n: number) => `mutation { ${Array.from({ length: n }, (_, i) => `v${i}: recordProductView(id: "${id}")`).join(' ')} }`;
    const refusals = [
      [flood(500), 'GRAPHQL_PARSE_FAILED', /Tokens limit of 1000 exceeded, found more than 1000/],
      [flood(16), 'GRAPHQL_VALIDATION_FAILED', /Aliases limit of 15 exceeded, found 16/],
      [flood(6), 'GRAPHQL_VALIDATION_FAILED', /Mutation fields limit of 5 exceeded, found 6/],
    ] as const;
    for (const [mutation, code, message] of refusals) {
      const refused = await app().query(mutation);
      expect(refused.status).toBe(400);
      expect(refused.body.errors?.map((e) => e.extensions?.code)).toContain(code);
      expect(refused.body.errors?.map((e) => e.message).join('\n')).toMatch(message);
    }
    const viewCount = async () => (await app().query(`query($id: ID!) { product(id: $id) { viewCount } }`, { id })).body.data?.product.viewCount;
    expect(await viewCount()).toBe(1);
  });
});
