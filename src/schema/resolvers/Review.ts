import type { ReviewResolvers } from '../../generated/graphql.ts';

export const Review: ReviewResolvers = {
  async author(review, _, { loaders }) {
    const author = await loaders.user.load(review.authorId);
    if (author === null) throw new Error(`User ${review.authorId}, author of Review ${review.id}, not found`);
    return author;
  },

  async product(review, _, { loaders }) {
    const product = await loaders.product.load(review.productId);
    if (product === null) throw new Error(`Product ${review.productId} of Review ${review.id} not found`);
    return product;
  },
};
