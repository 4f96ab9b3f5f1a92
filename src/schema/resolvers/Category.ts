import type { CategoryResolvers } from '../../generated/graphql.ts';
import { parseFirst } from '../arguments.ts';

export const Category: CategoryResolvers = {
  products(category, args, { loaders }) {
    return loaders.productsOfCategory.load({ parentId: category.id, first: parseFirst(args.first, 20) });
  },
};
