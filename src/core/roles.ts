/** Roles and what each may do. Admin API routes and registry gates ask `can()`. */
export const ROLES = ['admin', 'publisher', 'developer', 'reader'] as const;
export type Role = (typeof ROLES)[number];

export type Permission =
  | 'install' // read packuments and tarballs
  | 'explain' // read decisions, own requests, versions
  | 'publish' // publish packages they are allowed to (publish rules apply on top)
  | 'govern'; // change policy, users and tokens; read the audit log

const GRANTS: Record<Role, readonly Permission[]> = {
  admin: ['install', 'explain', 'publish', 'govern'],
  publisher: ['install', 'explain', 'publish'],
  developer: ['install', 'explain'],
  reader: ['install', 'explain'],
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function can(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && GRANTS[role].includes(permission);
}
