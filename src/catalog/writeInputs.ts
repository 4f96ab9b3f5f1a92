/**
 * Validated inputs of the catalog's writes: what the GraphQL mutations hand to the database layer
 * once every field has been checked (see src/schema/inputs.ts). Ids are numbers here.
 */

export interface NewProduct {
  readonly sku: string;
  readonly name: string;
  readonly description: string;
  readonly priceCents: number;
  readonly stock: number;
  readonly categoryId: number;
}

/** Only the fields present change. */
export type ProductPatch = Partial<Omit<NewProduct, 'sku'>>;

export interface NewReview {
  readonly productId: number;
  readonly authorId: number;
  readonly rating: number;
  readonly body: string;
}
