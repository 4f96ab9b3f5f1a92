import { z } from 'zod';

/**
 * The rows the cache holds, exactly as the database returns them. These shapes check every value
 * read back from Redis (cache/codec.ts), and their hash is part of every key: change one and the
 * entries of the old shape are simply never read again.
 */

const id = z.number().int().positive();

export const productShape = z.strictObject({
  id,
  sku: z.string(),
  name: z.string(),
  description: z.string(),
  priceCents: z.number().int(),
  stock: z.number().int(),
  categoryId: id,
  viewCount: z.number().int(),
  version: z.number().int().positive(),
  createdAt: z.date(),
  updatedAt: z.date(),
});

export const categoryShape = z.strictObject({ id, name: z.string(), slug: z.string() });

export const reviewShape = z.strictObject({
  id,
  productId: id,
  authorId: id,
  rating: z.number().int().min(1).max(5),
  body: z.string(),
  createdAt: z.date(),
});

export const userShape = z.strictObject({ id, name: z.string(), email: z.string(), createdAt: z.date() });

/** A relation list as cached: the ids of its members, in order. */
export const idListShape = z.array(id);

export type ProductRecord = z.infer<typeof productShape>;
export type CategoryRecord = z.infer<typeof categoryShape>;
export type ReviewRecord = z.infer<typeof reviewShape>;
export type UserRecord = z.infer<typeof userShape>;
export type IdList = z.infer<typeof idListShape>;
