/**
 * What a viewer may do. Every signed-in viewer is a USER; an ADMIN may also change the catalog.
 * The role travels in the viewer's signed token (`role: "admin"`), so checking it costs no query.
 */
export type Role = 'USER' | 'ADMIN';

/** Whether a viewer with `role` (null: anonymous) may do what `required` guards. Pure. */
export function roleGrants(role: Role | null, required: Role): boolean {
  if (role === null) return false;
  return required === 'USER' || role === 'ADMIN';
}

/** The token claim for a role: only admins carry one, so a USER token is the same string as before roles existed. */
export function roleClaim(role: Role): string | undefined {
  return role === 'ADMIN' ? 'admin' : undefined;
}

/** The role a token's `role` claim gives; anything but the known values is no role at all. */
export function roleFromClaim(claim: unknown): Role | undefined {
  if (claim === undefined) return 'USER';
  return claim === 'admin' ? 'ADMIN' : undefined;
}
