import type { MutationResolvers } from '../../generated/graphql.ts';
import { parseId } from '../arguments.ts';
import { parseNewProduct, parseNewReview, parseProductPatch } from '../inputs.ts';

// Every argument is validated before anything is written; the writes themselves, and keeping the
// cache tiers coherent with them, are the request's Mutations (schema/context.ts). Who may call
// each one is the schema's @auth, checked before execution (auth/authorization.ts).
export const Mutation: MutationResolvers = {
  createProduct(_, args, { mutations }) {
    return mutations.createProduct(parseNewProduct(args.input));
  },

  updateProduct(_, args, { mutations }) {
    return mutations.updateProduct(parseId('id', args.id), parseProductPatch(args.input));
  },

  deleteProduct(_, args, { mutations }) {
    return mutations.deleteProduct(parseId('id', args.id));
  },

  createReview(_, args, { mutations, viewer }) {
    return mutations.createReview(parseNewReview(args.input, viewer));
  },

  deleteReview(_, args, { mutations }) {
    return mutations.deleteReview(parseId('id', args.id));
  },

  recordProductView(_, args, { mutations }) {
    return mutations.recordProductView(parseId('id', args.id));
  },
};
