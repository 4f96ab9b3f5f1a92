import type { ProductResolvers } from '../../generated/graphql.ts';
import { parseFirst } from '../arguments.ts';

export const Product: ProductResolvers = {
  updatedAt: (product) => product.updatedAt.toISOString(),

  // Views are written behind (see views/): the row's count plus what is buffered, not yet flushed.
  async viewCount(product, _, { loaders }) {
    return product.viewCount + (await loaders.pendingViews.load(product.id));
  },

  async category(product, _, { loaders }) {
    const category = await loaders.category.load(product.categoryId);
    // The foreign key makes this unreachable unless the row vanished between two reads.
    if (category === null) throw new Error(`Category ${product.categoryId} of Product ${product.id} not found`);
    return category;
  },

  reviews(product, args, { loaders }) {
    return loaders.reviewsOfProduct.load({ parentId: product.id, first: parseFirst(args.first, 10) });
  },
};
