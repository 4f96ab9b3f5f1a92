import type { UserResolvers } from '../../generated/graphql.ts';

export const User: UserResolvers = {
  // Private: the cached row holds every user's email, and only its own user ever sees it.
  email: (user, _, { viewer }) => (viewer.userId === user.id ? user.email : null),
};
