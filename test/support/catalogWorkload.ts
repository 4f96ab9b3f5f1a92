import { performance } from 'node:perf_hooks';
import type { Prisma } from '../../src/database/database.ts';
import type { SeededRandom } from './seededRandom.ts';
import type { GraphQLResult, TestApp } from './testApp.ts';
import { WriteHistory, type Span } from './writeHistory.ts';

/**
 * A catalog workload for randomised tests over several app instances: the writes and reads a client
 * makes, each timed and recorded, what the test knows of the catalog because of them (a
 * WriteHistory), and what each read showed of each item, to be judged against that history.
 *
 * Items are `Product:<id>`, whose state is its fields or null (deleted, or not created yet), and
 * `Review:<id>`, whose state is its product or null; a review cascades from its product.
 */

/** One app instance, as the workload addresses it. */
export interface Instance {
  readonly name: string;
  readonly t: TestApp;
}

export interface ProductState {
  readonly name: string;
  readonly stock: number;
  readonly priceCents: number;
  readonly categoryId: number;
}

export interface ReviewState {
  readonly productId: number;
}

export const READS = {
  product: `query ChaosProduct($id: ID!) { product(id: $id) { id name stock priceCents category { id } } }`,
  categoryProducts: `query ChaosCategory($id: ID!) { category(id: $id) { products(first: 100) { id name } } }`,
  productReviews: `query ChaosReviews($id: ID!) { product(id: $id) { id reviews(first: 100) { id } } }`,
  productPage: `query ChaosPage($categoryId: ID!, $after: ID, $first: Int!) { products(categoryId: $categoryId, after: $after, first: $first) { id name } }`,
} as const;

export type ReadKind = keyof typeof READS;

export interface ReadRequest {
  readonly kind: ReadKind;
  readonly variables: Readonly<Record<string, string | number | null>>;
}

export interface ReadRecord extends Span {
  readonly request: ReadRequest;
  /** The response tier's `x-response-cache` (HIT, MISS), or '' without one. */
  readonly source: string;
  readonly status: number;
  readonly body: GraphQLResult['body'] | undefined;
  /** The request got no HTTP answer at all: why. */
  readonly thrown?: string;
}

/** A request that failed for no reason the domain gives: what the test must never see. */
export interface Failure {
  readonly span: Span;
  readonly what: string;
  readonly detail: string;
}

/** A write's answer, for the report. */
export interface WriteRecord extends Span {
  readonly operation: string;
  readonly item: string;
  readonly outcome: 'done' | 'domain error' | 'no-op' | 'failed';
  readonly detail: string;
}

/** What one read showed of one item: `matches` says whether a state of the item is what it showed. */
export interface Observation {
  readonly item: string;
  readonly shown: string;
  readonly matches: (state: unknown) => boolean;
}

/** What the test knows of its catalog, and everything it sent: the history the reads are judged by. */
export class CatalogModel {
  readonly history = new WriteHistory();
  readonly reads: ReadRecord[] = [];
  readonly writes: WriteRecord[] = [];
  readonly failures: Failure[] = [];
  /** Every product the test has known, in id order of creation. */
  readonly productIds: number[] = [];
  readonly reviewIds: number[] = [];
  /** A cursor for paged reads: an id inside the first category's products. */
  readonly pageCursor: number;
  private readonly reviewProduct = new Map<number, number>();
  /** Items whose deletion was answered as done. */
  private readonly deleted = new Set<string>();
  /** When each request that deleted, or tried to delete, an item was sent. */
  private readonly deletesSent = new Map<string, Set<{ sentAt: number }>>();
  private counter = 0;

  private constructor(
    readonly categories: readonly [number, number],
    /** Unique to the run: skus and names carry it. */
    readonly tag: string,
    pageCursor: number,
  ) {
    this.pageCursor = pageCursor;
  }

  /** The fixture's rows, read from the database, as the initial states. */
  static async fromDatabase(prisma: Prisma, fixture: { tag: string; category: { id: number }; other: { id: number } }): Promise<CatalogModel> {
    const categories = [fixture.category.id, fixture.other.id] as const;
    const products = await prisma.product.findMany({ where: { categoryId: { in: [...categories] } }, orderBy: { id: 'asc' } });
    const reviews = await prisma.review.findMany({ where: { productId: { in: products.map((p) => p.id) } }, orderBy: { id: 'asc' } });
    const model = new CatalogModel(categories, fixture.tag, products[Math.min(2, products.length - 1)]?.id ?? 0);
    for (const product of products) model.addProduct(product.id, productState(product));
    for (const review of reviews) model.addReview(review.id, review.productId);
    return model;
  }

  /** A fresh number, for unique names and skus. */
  next(): number {
    return ++this.counter;
  }

  isDeleted(item: string): boolean {
    return this.deleted.has(item);
  }

  liveProducts(): number[] {
    return this.productIds.filter((id) => !this.deleted.has(`Product:${id}`));
  }

  liveReviews(): number[] {
    return this.reviewIds.filter((id) => !this.deleted.has(`Review:${id}`) && !this.deleted.has(`Product:${this.reviewProduct.get(id)}`));
  }

  reviewsOf(productId: number): number[] {
    return this.reviewIds.filter((id) => this.reviewProduct.get(id) === productId);
  }

  productOfReview(reviewId: number): number | undefined {
    return this.reviewProduct.get(reviewId);
  }

  /** Call before sending a deletion of `item`; returns the token {@link deleteSentBefore} excludes. */
  noteDeleteSent(item: string, sentAt: number): { sentAt: number } {
    const token = { sentAt };
    const sent = this.deletesSent.get(item) ?? new Set();
    sent.add(token);
    this.deletesSent.set(item, sent);
    return token;
  }

  /** Whether a deletion of `item` (other than `except`) was sent before `at`: it may have committed by then. */
  deleteSentBefore(item: string, at: number, except?: { sentAt: number }): boolean {
    return [...(this.deletesSent.get(item) ?? [])].some((token) => token !== except && token.sentAt < at);
  }

  addProduct(id: number, state: ProductState, created?: Span): void {
    this.history.initial(`Product:${id}`, created ? null : state);
    if (created) this.history.record(`Product:${id}`, state, 'create', created);
    this.productIds.push(id);
  }

  addReview(id: number, productId: number, created?: Span): void {
    this.history.initial(`Review:${id}`, created ? null : { productId }, { cascadeFrom: `Product:${productId}` });
    if (created) this.history.record(`Review:${id}`, { productId }, 'create', created);
    this.reviewIds.push(id);
    this.reviewProduct.set(id, productId);
  }

  markDeleted(item: string): void {
    this.deleted.add(item);
  }
}

export function productState(row: { name: string; stock: number; priceCents: number; categoryId: number }): ProductState {
  return { name: row.name, stock: row.stock, priceCents: row.priceCents, categoryId: row.categoryId };
}

/** Sends one operation to one instance and times it. */
export async function send(instance: Instance, phase: string, text: string, variables: Record<string, unknown>, as: 'anonymous' | 'admin'): Promise<{ span: Span; result?: GraphQLResult; thrown?: string }> {
  const sentAt = performance.now();
  try {
    const result = as === 'admin' ? await instance.t.mutate(text, variables) : await instance.t.query(text, variables);
    return { span: { sentAt, answeredAt: performance.now(), instance: instance.name, phase }, result };
  } catch (error) {
    return { span: { sentAt, answeredAt: performance.now(), instance: instance.name, phase }, thrown: error instanceof Error ? error.message : String(error) };
  }
}

/** Sends a read and records it in the model. */
export async function read(model: CatalogModel, instance: Instance, phase: string, request: ReadRequest): Promise<ReadRecord> {
  const { span, result, thrown } = await send(instance, phase, READS[request.kind], { ...request.variables }, 'anonymous');
  const record: ReadRecord = {
    ...span,
    request,
    source: result?.headers.get('x-response-cache') ?? '',
    status: result?.status ?? 0,
    body: result?.body,
    ...(thrown !== undefined ? { thrown } : {}),
  };
  model.reads.push(record);
  return record;
}

/** A read of the kinds the workload makes, of items of the model, drawn from `random`. */
export function pickRead(model: CatalogModel, random: SeededRandom): ReadRequest {
  const live = model.liveProducts();
  // Mostly live products; now and then any, deleted ones included (their answer is NOT_FOUND).
  const product = () => String(live.length > 0 && random.chance(0.9) ? random.pick(live) : random.pick(model.productIds));
  const category = () => String(random.pick(model.categories));
  const roll = random.next();
  if (roll < 0.4) return { kind: 'product', variables: { id: product() } };
  if (roll < 0.6) return { kind: 'categoryProducts', variables: { id: category() } };
  if (roll < 0.8) return { kind: 'productReviews', variables: { id: product() } };
  return {
    kind: 'productPage',
    variables: { categoryId: category(), after: random.chance(0.5) ? null : String(model.pageCursor), first: random.pick([3, 100]) },
  };
}

/**
 * One write, drawn from `random`: mostly product updates (name, stock, price, category), then
 * reviews and products created and deleted. Each may read its own write back, on its own instance
 * or the other. Domain errors are told apart from failures here (see {@link classifyWriteErrors}).
 */
export async function writeOnce(model: CatalogModel, instances: readonly [Instance, Instance], random: SeededRandom, phase: () => string): Promise<void> {
  const [own, other] = instances;
  const live = model.liveProducts();
  const roll = random.next();
  if (roll < 0.12 && live.length > 0) return createReview(model, own, random, phase);
  if (roll < 0.22 && model.liveReviews().length > 0) return deleteReview(model, own, random, phase);
  if (roll < 0.32 && live.length < 16) return createProduct(model, instances, random, phase);
  if (roll < 0.4 && live.length > 5) return deleteProduct(model, own, random, phase);
  // Now and then a product another writer may have deleted: its NOT_FOUND is a domain error.
  const id = live.length > 0 && random.chance(0.95) ? random.pick(live) : random.pick(model.productIds);
  await updateProduct(model, [own, other], random, phase, id);
}

const PRODUCT_FIELDS = `id name stock priceCents category { id }`;
const UPDATE = `mutation ChaosUpdate($id: ID!, $input: UpdateProductInput!) { updateProduct(id: $id, input: $input) { ${PRODUCT_FIELDS} } }`;
const CREATE_PRODUCT = `mutation ChaosCreateProduct($input: CreateProductInput!) { createProduct(input: $input) { ${PRODUCT_FIELDS} } }`;
const DELETE_PRODUCT = `mutation ChaosDeleteProduct($id: ID!) { deleteProduct(id: $id) }`;
const CREATE_REVIEW = `mutation ChaosCreateReview($input: CreateReviewInput!) { createReview(input: $input) { id rating } }`;
const DELETE_REVIEW = `mutation ChaosDeleteReview($id: ID!) { deleteReview(id: $id) }`;

async function updateProduct(model: CatalogModel, [own, other]: readonly [Instance, Instance], random: SeededRandom, phase: () => string, id: number): Promise<void> {
  const item = `Product:${id}`;
  const current = model.history.latest<ProductState | null>(item);
  const n = model.next();
  const roll = random.next();
  const input =
    roll < 0.25
      ? { name: `${model.tag} p${id} w${n}` }
      : roll < 0.45
        ? { stock: random.below(1000) }
        : roll < 0.65
          ? { priceCents: 100 + random.below(100_000) }
          : roll < 0.8
            ? { name: `${model.tag} p${id} w${n}`, stock: random.below(1000) }
            : { categoryId: String(model.categories.find((c) => c !== current?.categoryId) ?? model.categories[0]) };
  const { span, result, thrown } = await send(own, phase(), UPDATE, { id: String(id), input }, 'admin');
  const row = result?.body.data?.updateProduct as Record<string, any> | undefined;
  if (row && !result?.body.errors) {
    const state: ProductState = { name: row.name, stock: row.stock, priceCents: row.priceCents, categoryId: Number(row.category.id) };
    const write = model.history.record(item, state, 'update', span);
    model.writes.push({ ...span, operation: 'updateProduct', item, outcome: 'done', detail: `#${write} ${JSON.stringify(input)}` });
    // Read-your-writes, on the writer's own instance; and the other instance, right after.
    if (random.chance(0.5)) await read(model, own, phase(), { kind: 'product', variables: { id: String(id) } });
    if (random.chance(0.2)) await read(model, other, phase(), { kind: 'product', variables: { id: String(id) } });
    if ('categoryId' in input && random.chance(0.3)) await read(model, own, phase(), { kind: 'categoryProducts', variables: { id: String(input.categoryId) } });
    return;
  }
  // NOT_FOUND on `id` is the domain's answer only when a deletion of the product may have committed first.
  classifyWriteErrors(model, { span, result, thrown }, 'updateProduct', item, (error) => error.extensions?.code === 'NOT_FOUND' && error.extensions.argumentName === 'id' && model.deleteSentBefore(item, span.answeredAt));
}

async function createProduct(model: CatalogModel, [own, other]: readonly [Instance, Instance], random: SeededRandom, phase: () => string): Promise<void> {
  const n = model.next();
  const input = {
    sku: `CH-${model.tag}-${n}`,
    name: `${model.tag} new ${n}`,
    description: 'Made by the chaos test.',
    priceCents: 100 + random.below(100_000),
    stock: random.below(1000),
    categoryId: String(random.pick(model.categories)),
  };
  const { span, result, thrown } = await send(own, phase(), CREATE_PRODUCT, { input }, 'admin');
  const row = result?.body.data?.createProduct as Record<string, any> | undefined;
  if (!row || result?.body.errors) return classifyWriteErrors(model, { span, result, thrown }, 'createProduct', `new ${n}`, () => false);
  const id = Number(row.id);
  model.addProduct(id, { name: row.name, stock: row.stock, priceCents: row.priceCents, categoryId: Number(row.category.id) }, span);
  model.writes.push({ ...span, operation: 'createProduct', item: `Product:${id}`, outcome: 'done', detail: JSON.stringify(input) });
  if (random.chance(0.5)) await read(model, own, phase(), { kind: 'product', variables: { id: String(id) } });
  if (random.chance(0.3)) await read(model, random.pick([own, other]), phase(), { kind: 'categoryProducts', variables: { id: input.categoryId } });
}

async function deleteProduct(model: CatalogModel, own: Instance, random: SeededRandom, phase: () => string): Promise<void> {
  const id = random.pick(model.liveProducts());
  const item = `Product:${id}`;
  const token = model.noteDeleteSent(item, performance.now());
  const { span, result, thrown } = await send(own, phase(), DELETE_PRODUCT, { id: String(id) }, 'admin');
  const done = result?.body.data?.deleteProduct;
  if (done === true && !result?.body.errors) {
    const write = model.history.record(item, null, 'delete', span);
    model.markDeleted(item);
    model.writes.push({ ...span, operation: 'deleteProduct', item, outcome: 'done', detail: `#${write}` });
    if (random.chance(0.3)) await read(model, own, phase(), { kind: 'product', variables: { id: String(id) } });
    return;
  }
  // false: no such product. Only another deletion may have got there first.
  if (done === false && !result?.body.errors && model.deleteSentBefore(item, span.answeredAt, token)) {
    model.writes.push({ ...span, operation: 'deleteProduct', item, outcome: 'no-op', detail: 'deleted by another writer first' });
    return;
  }
  classifyWriteErrors(model, { span, result, thrown }, 'deleteProduct', item, () => false);
}

async function createReview(model: CatalogModel, own: Instance, random: SeededRandom, phase: () => string): Promise<void> {
  const productId = random.pick(model.liveProducts());
  const product = `Product:${productId}`;
  const input = { productId: String(productId), rating: 1 + random.below(5), body: `${model.tag} review ${model.next()}` };
  const { span, result, thrown } = await send(own, phase(), CREATE_REVIEW, { input }, 'admin');
  const row = result?.body.data?.createReview as Record<string, any> | undefined;
  if (row && !result?.body.errors) {
    const id = Number(row.id);
    model.addReview(id, productId, span);
    model.writes.push({ ...span, operation: 'createReview', item: `Review:${id}`, outcome: 'done', detail: `of ${product}` });
    if (random.chance(0.4)) await read(model, own, phase(), { kind: 'productReviews', variables: { id: String(productId) } });
    return;
  }
  // The product must exist: BAD_USER_INPUT on input.productId only when its deletion may have committed first.
  classifyWriteErrors(
    model,
    { span, result, thrown },
    'createReview',
    product,
    (error) => error.extensions?.code === 'BAD_USER_INPUT' && error.extensions.argumentName === 'input.productId' && model.deleteSentBefore(product, span.answeredAt),
  );
}

async function deleteReview(model: CatalogModel, own: Instance, random: SeededRandom, phase: () => string): Promise<void> {
  const id = random.pick(model.liveReviews());
  const item = `Review:${id}`;
  const product = `Product:${model.productOfReview(id)}`;
  const token = model.noteDeleteSent(item, performance.now());
  const { span, result, thrown } = await send(own, phase(), DELETE_REVIEW, { id: String(id) }, 'admin');
  const done = result?.body.data?.deleteReview;
  if (done === true && !result?.body.errors) {
    const write = model.history.record(item, null, 'delete', span);
    model.markDeleted(item);
    model.writes.push({ ...span, operation: 'deleteReview', item, outcome: 'done', detail: `#${write} of ${product}` });
    if (random.chance(0.4)) await read(model, own, phase(), { kind: 'productReviews', variables: { id: product.slice('Product:'.length) } });
    return;
  }
  if (done === false && !result?.body.errors && (model.deleteSentBefore(item, span.answeredAt, token) || model.deleteSentBefore(product, span.answeredAt))) {
    model.writes.push({ ...span, operation: 'deleteReview', item, outcome: 'no-op', detail: 'deleted by another writer first' });
    return;
  }
  classifyWriteErrors(model, { span, result, thrown }, 'deleteReview', item, () => false);
}

type GraphQLError = NonNullable<GraphQLResult['body']['errors']>[number];

/**
 * A write that did not do what it was asked: a domain error when `expected` accepts its one error
 * (the test's own history explains it: a concurrent deletion), a failure otherwise (no answer, a
 * status other than 200, any other error).
 */
function classifyWriteErrors(model: CatalogModel, { span, result, thrown }: { span: Span; result?: GraphQLResult; thrown?: string }, operation: string, item: string, expected: (error: GraphQLError) => boolean): void {
  const errors = result?.body.errors ?? [];
  if (result?.status === 200 && errors.length === 1 && expected(errors[0] as GraphQLError)) {
    model.writes.push({ ...span, operation, item, outcome: 'domain error', detail: String(errors[0]?.extensions?.code) });
    return;
  }
  const detail = thrown ?? `status ${result?.status}: ${JSON.stringify(result?.body).slice(0, 300)}`;
  model.writes.push({ ...span, operation, item, outcome: 'failed', detail });
  model.failures.push({ span, what: `${operation} ${item}`, detail });
}

/**
 * Why a read failed, or undefined. Only one error is the domain's: NOT_FOUND for a product that
 * may have been deleted, which {@link observationsOf} then judges as a read of its absence.
 */
export function readFailure(record: ReadRecord): string | undefined {
  if (record.thrown !== undefined) return `no answer: ${record.thrown}`;
  const body = record.body;
  if (record.status !== 200 || !body) return `status ${record.status}: ${JSON.stringify(body).slice(0, 300)}`;
  const errors = body.errors ?? [];
  const byId = record.request.kind === 'product' || record.request.kind === 'productReviews';
  if (errors.length === 0) return body.data ? undefined : 'no data';
  if (byId && errors.length === 1 && errors[0]?.extensions?.code === 'NOT_FOUND' && body.data?.product === null) return undefined;
  return `errors: ${JSON.stringify(errors).slice(0, 300)}`;
}

/** What a read that did not fail showed of each item it covers. */
export function observationsOf(record: ReadRecord, model: CatalogModel): Observation[] {
  const data = record.body?.data ?? {};
  const { kind, variables } = record.request;
  switch (kind) {
    case 'product': {
      const row = data.product as Record<string, any> | null;
      const shown: ProductState | null = row ? { name: row.name, stock: row.stock, priceCents: row.priceCents, categoryId: Number(row.category.id) } : null;
      return [{ item: `Product:${variables.id}`, shown: JSON.stringify(shown), matches: (state) => JSON.stringify(state) === JSON.stringify(shown) }];
    }
    case 'productReviews': {
      const product = `Product:${variables.id}`;
      const row = data.product as { reviews: Array<{ id: string }> } | null;
      if (!row) return [{ item: product, shown: 'absent', matches: (state) => state === null }];
      const listed = new Set(row.reviews.map((review) => Number(review.id)));
      const known = model.reviewsOf(Number(variables.id));
      return [
        { item: product, shown: 'present', matches: (state) => state !== null },
        ...known.map((id) => membership(`Review:${id}`, listed.has(id), `reviews of ${product}`, (state) => state !== null)),
        // A review the test never created: no version of it exists, so the read is a phantom.
        ...[...listed].filter((id) => !known.includes(id)).map((id) => ({ item: `Review:${id} (unknown)`, shown: `in reviews of ${product}`, matches: () => true })),
      ];
    }
    case 'categoryProducts':
      return listObservations(model, Number(variables.id), (data.category as { products: Array<{ id: string; name: string }> }).products, { after: null, first: 100 });
    case 'productPage':
      return listObservations(model, Number(variables.categoryId), data.products as Array<{ id: string; name: string }>, {
        after: variables.after === null ? null : Number(variables.after),
        first: Number(variables.first),
      });
    default:
      return unreachable(kind);
  }
}

/**
 * A list of a category's products by id, `first` of them after `after`: each product the test
 * knows is in it or not, and each listed one has its name. A product past the last one listed of a
 * full page says nothing.
 */
function listObservations(model: CatalogModel, categoryId: number, rows: Array<{ id: string; name: string }>, page: { after: number | null; first: number }): Observation[] {
  const listed = new Map(rows.map((row) => [Number(row.id), row.name]));
  const last = rows.length > 0 ? Number(rows[rows.length - 1]?.id) : Number.POSITIVE_INFINITY;
  const full = rows.length >= page.first;
  const list = `products of Category:${categoryId}`;
  const observations: Observation[] = [];
  for (const id of model.productIds) {
    if (page.after !== null && id <= page.after) continue;
    const name = listed.get(id);
    if (name === undefined && full && id > last) continue;
    observations.push(membership(`Product:${id}`, name !== undefined, list, (state) => (state as ProductState | null)?.categoryId === categoryId));
    if (name !== undefined) observations.push({ item: `Product:${id}`, shown: `named ${JSON.stringify(name)} in ${list}`, matches: (state) => (state as ProductState | null)?.name === name });
  }
  for (const id of listed.keys()) {
    if (!model.productIds.includes(id)) observations.push({ item: `Product:${id} (unknown)`, shown: `in ${list}`, matches: () => true });
  }
  const ids = rows.map((row) => Number(row.id));
  if (ids.some((id, i) => i > 0 && id <= (ids[i - 1] as number)) || (page.after !== null && ids.some((id) => id <= (page.after as number)))) {
    observations.push({ item: `${list} (order)`, shown: `out of order: ${ids.join(',')}`, matches: () => true });
  }
  return observations;
}

function membership(item: string, listed: boolean, list: string, isMember: (state: unknown) => boolean): Observation {
  return { item, shown: `${listed ? 'in' : 'not in'} ${list}`, matches: (state) => isMember(state) === listed };
}

/** A response reduced to what must equal the database's answer: its data and its error codes. */
export interface Answer {
  readonly data: unknown;
  readonly codes: readonly string[];
}

export function answerOf(body: GraphQLResult['body'] | undefined): Answer {
  return { data: body?.data ?? null, codes: (body?.errors ?? []).map((error) => String(error.extensions?.code)) };
}

/** What the database says the answer to `request` is, read with Prisma directly. */
export async function truthOf(prisma: Prisma, request: ReadRequest): Promise<Answer> {
  const { kind, variables } = request;
  const productOut = (row: { id: number; name: string; stock: number; priceCents: number; categoryId: number }) => ({
    id: String(row.id),
    name: row.name,
    stock: row.stock,
    priceCents: row.priceCents,
    category: { id: String(row.categoryId) },
  });
  const notFound: Answer = { data: { product: null }, codes: ['NOT_FOUND'] };
  switch (kind) {
    case 'product': {
      const row = await prisma.product.findUnique({ where: { id: Number(variables.id) } });
      return row ? { data: { product: productOut(row) }, codes: [] } : notFound;
    }
    case 'productReviews': {
      const id = Number(variables.id);
      const row = await prisma.product.findUnique({ where: { id } });
      if (!row) return notFound;
      const reviews = await prisma.review.findMany({ where: { productId: id }, orderBy: { id: 'asc' }, take: 100, select: { id: true } });
      return { data: { product: { id: String(id), reviews: reviews.map((review) => ({ id: String(review.id) })) } }, codes: [] };
    }
    case 'categoryProducts': {
      const rows = await prisma.product.findMany({ where: { categoryId: Number(variables.id) }, orderBy: { id: 'asc' }, take: 100 });
      return { data: { category: { products: rows.map((row) => ({ id: String(row.id), name: row.name })) } }, codes: [] };
    }
    case 'productPage': {
      const rows = await prisma.product.findMany({
        where: { categoryId: Number(variables.categoryId), ...(variables.after !== null ? { id: { gt: Number(variables.after) } } : {}) },
        orderBy: { id: 'asc' },
        take: Number(variables.first),
      });
      return { data: { products: rows.map((row) => ({ id: String(row.id), name: row.name })) }, codes: [] };
    }
    default:
      return unreachable(kind);
  }
}

/** Identifies a request: the response tier's key is the same text and variables. */
export function requestKey(request: ReadRequest): string {
  return `${request.kind} ${JSON.stringify(request.variables)}`;
}

function unreachable(value: never): never {
  throw new Error(`unreachable read kind: ${JSON.stringify(value)}`);
}
