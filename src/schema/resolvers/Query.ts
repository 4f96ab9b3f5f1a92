import { NotFoundError } from '../../errors.ts';
import type { QueryResolvers } from '../../generated/graphql.ts';
import { parseFirst, parseId, parseOptionalId } from '../arguments.ts';

export const Query: QueryResolvers = {
  async product(_, args, { loaders }) {
    return found(await loaders.product.load(parseId('id', args.id)), 'Product', args.id);
  },

  async products(_, args, { loaders }) {
    const page = {
      first: parseFirst(args.first, 20),
      // A cursor, not a reference: the product it names may since have been deleted.
      after: parseOptionalId('after', args.after),
      categoryId: parseOptionalId('categoryId', args.categoryId),
    };
    if (page.categoryId !== null) {
      found(await loaders.category.load(page.categoryId), 'Category', args.categoryId ?? '', 'categoryId');
    }
    return loaders.productPage.load(page);
  },

  async category(_, args, { loaders }) {
    return found(await loaders.category.load(parseId('id', args.id)), 'Category', args.id);
  },

  categories(_, __, { loaders }) {
    return loaders.allCategories.load('all');
  },

  async user(_, args, { loaders }) {
    return found(await loaders.user.load(parseId('id', args.id)), 'User', args.id);
  },

  // A token outlives nothing: a viewer whose user was deleted is nobody, not an error.
  me(_, __, { loaders, viewer }) {
    return viewer.userId === null ? null : loaders.user.load(viewer.userId);
  },
};

function found<V>(value: V | null, typeName: string, id: string | number, argument = 'id'): V {
  if (value === null) throw new NotFoundError(argument, typeName, String(id));
  return value;
}
