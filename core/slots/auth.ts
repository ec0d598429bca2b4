/** Roles, weakest first: viewer reads, operator runs and deploys, admin manages resources and users. */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

/**
 * Who is calling: a user (password login), an API token, or a peer node. Resolved for every
 * non-anonymous request by the `auth:authenticate` hook (see core-hooks.ts), which auth plugins handle.
 */
export interface Principal {
  id: string;
  name: string;
  role: Role;
  kind: 'user' | 'token' | 'node';
}
