import type { BearerTokens } from '../auth/bearerTokens.ts';
import type { Role } from '../auth/roles.ts';
import type { Prisma } from './database.ts';

/** What the seed makes, per ../../README.md: ids 1..N, the same rows for the same ids, every run. */
export interface SeedOptions {
  /** Products to create; each gets {@link REVIEWS_PER_PRODUCT} reviews. */
  products: number;
  onProgress?: (done: number, total: number) => void;
}

export const CATEGORIES = 50;
export const USERS = 500;
export const REVIEWS_PER_PRODUCT = 5;
/** The seed's one known admin: `npm run token -- 1` prints a token carrying the admin role. */
export const SEED_ADMIN_USER_ID = 1;

/**
 * The role of a seeded user. Roles live in the signed token, not in a table: whoever holds the
 * signing secret decides them, and the seed's demo tokens follow this rule.
 */
export function roleOfSeededUser(userId: number): Role {
  return userId === SEED_ADMIN_USER_ID ? 'ADMIN' : 'USER';
}

/** A seeded user's demo token, with the seeded role: what the seed, the first start and `npm run token` print. */
export function signSeededUser(tokens: BearerTokens, userId: number): Promise<string> {
  return tokens.sign(userId, { role: roleOfSeededUser(userId) });
}

/**
 * Seeds the catalog deterministically and idempotently: rows are a pure function of their id and
 * inserts skip ids that exist, so running it twice, or after a partial run, gives the same database.
 */
export async function seedCatalog(prisma: Prisma, options: SeedOptions): Promise<void> {
  const epoch = Date.UTC(2026, 0, 1);
  await prisma.category.createMany({ data: range(1, CATEGORIES).map(category), skipDuplicates: true });
  await prisma.user.createMany({ data: range(1, USERS).map((id) => user(id, epoch)), skipDuplicates: true });

  // Batched: one statement per chunk keeps 100,000 products (and 500,000 reviews) to minutes.
  for (let start = 1; start <= options.products; start += CHUNK) {
    const end = Math.min(options.products, start + CHUNK - 1);
    await prisma.product.createMany({ data: range(start, end).map((id) => product(id, epoch)), skipDuplicates: true });
    const reviews = range(start, end).flatMap((productId) => range(1, REVIEWS_PER_PRODUCT).map((k) => review((productId - 1) * REVIEWS_PER_PRODUCT + k, productId, epoch)));
    await prisma.review.createMany({ data: reviews, skipDuplicates: true });
    options.onProgress?.(end, options.products);
  }

  // Explicit ids leave the serial sequences behind; later inserts must not collide with seeded ids.
  for (const table of ['Category', 'User', 'Product', 'Review']) {
    await prisma.$executeRawUnsafe(`SELECT setval(pg_get_serial_sequence('"${table}"', 'id'), GREATEST((SELECT MAX(id) FROM "${table}"), 1))`);
  }
}

// Private: each row is a pure function of its id.

const CHUNK = 2000;

const ADJECTIVES = ['Sturdy', 'Compact', 'Vivid', 'Quiet', 'Rapid', 'Classic', 'Nimble', 'Bright', 'Solid', 'Gentle', 'Bold', 'Sleek'];
const NOUNS = ['Lamp', 'Kettle', 'Backpack', 'Chair', 'Headset', 'Notebook', 'Bottle', 'Jacket', 'Speaker', 'Blender', 'Tent', 'Watch'];
const TOPICS = ['Home', 'Garden', 'Audio', 'Outdoor', 'Kitchen', 'Office', 'Travel', 'Fitness', 'Books', 'Toys'];
const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Tony'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman', 'Hoare'];
const OPINIONS = ['Does what it says.', 'Better than expected.', 'Arrived late but works.', 'Would buy again.', 'Not for me.'];

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

function pick<T>(list: readonly T[], n: number): T {
  return list[n % list.length] as T;
}

function category(id: number) {
  const name = `${pick(TOPICS, id)} ${Math.ceil(id / TOPICS.length)}`;
  return { id, name, slug: `${pick(TOPICS, id).toLowerCase()}-${id}` };
}

function user(id: number, epoch: number) {
  return {
    id,
    name: `${pick(FIRST, id)} ${pick(LAST, Math.floor(id / FIRST.length))}`,
    email: `user${id}@example.com`,
    createdAt: new Date(epoch + id * 60_000),
  };
}

function product(id: number, epoch: number) {
  const at = new Date(epoch + id * 1000);
  return {
    id,
    sku: `SKU-${String(id).padStart(7, '0')}`,
    name: `${pick(ADJECTIVES, id)} ${pick(NOUNS, Math.floor(id / ADJECTIVES.length))} ${id}`,
    description: `The ${pick(ADJECTIVES, id).toLowerCase()} ${pick(NOUNS, id).toLowerCase()} number ${id}.`,
    priceCents: 500 + ((id * 7919) % 49_500),
    stock: (id * 31) % 200,
    categoryId: ((id - 1) % CATEGORIES) + 1,
    createdAt: at,
    updatedAt: at,
  };
}

function review(id: number, productId: number, epoch: number) {
  return {
    id,
    productId,
    authorId: ((id * 37) % USERS) + 1,
    rating: (id % 5) + 1,
    body: pick(OPINIONS, id * 3),
    createdAt: new Date(epoch + id * 500),
  };
}
