import type { Resolvers } from '../../generated/graphql.ts';
import { Category } from './Category.ts';
import { Mutation } from './Mutation.ts';
import { Product } from './Product.ts';
import { Query } from './Query.ts';
import { Review } from './Review.ts';

// User has only scalar fields: the default resolvers read them off the cached record.
export const resolvers: Resolvers = { Query, Mutation, Product, Category, Review };
