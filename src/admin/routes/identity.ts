import { GatekeeperError } from '../../core/errors';
import { parseId } from '../../services/governance';
import { CREATED, ok, RouteDef } from '../route';

export const get_whoami: RouteDef = {
  name: 'get_whoami',
  method: 'get',
  path: '/whoami',
  access: 'authenticated',
  summary: 'The caller: username and role',
  handler: async ({ principal }) => ok({ username: principal?.username, role: principal?.role }),
};

export const list_users: RouteDef = {
  name: 'list_users',
  method: 'get',
  path: '/users',
  access: 'govern',
  summary: 'List users',
  handler: async ({ runtime }) => ok({ items: await runtime.identity.listUsers() }),
};

export const create_user: RouteDef = {
  name: 'create_user',
  method: 'post',
  path: '/users',
  access: 'govern',
  responses: CREATED,
  summary: 'Create a user with a role (admin, publisher, developer, reader)',
  body: [
    { name: 'username', description: 'letters, digits, dots, dashes, underscores', required: true },
    { name: 'password', description: 'at least 8 characters', required: true },
    { name: 'role', description: 'admin, publisher, developer or reader' },
  ],
  handler: async ({ runtime, actor, body }) =>
    ok(await runtime.identity.createUser(actor, { username: body.username, password: body.password, role: body.role ?? 'developer' })),
};

export const update_user: RouteDef = {
  name: 'update_user',
  method: 'patch',
  path: '/users/:username',
  access: 'govern',
  summary:
    "Disable or re-enable a user, change their role, or reset their password; takes effect on their next request. Disabling revokes every token and console session of the user, so re-enabling restores none; a new password ends the user's console sessions (their npm tokens stay). The parts sent together apply together or not at all",
  body: [
    { name: 'disabled', description: 'true or false' },
    { name: 'role', description: 'admin, publisher, developer or reader' },
    { name: 'password', description: 'a new password (8 to 1024 characters), set without the old one: the user\'s console sessions end' },
  ],
  handler: async ({ runtime, actor, params, body }) => {
    if (body.disabled === undefined && body.role === undefined && body.password === undefined) {
      throw new GatekeeperError('EVALIDATION', 'the change names nothing to change. Send disabled (true or false), role, password, or several of them');
    }
    if (body.disabled !== undefined && typeof body.disabled !== 'boolean') throw new GatekeeperError('EVALIDATION', 'disabled must be true or false. Send a JSON boolean, not a string');
    // One transaction: a part refused (the last active admin, a user without a password of ours) changes nothing.
    const user = await runtime.identity.updateUser(actor, params.username, { role: body.role, password: body.password, disabled: body.disabled });
    return ok(user);
  },
};

export const list_tokens: RouteDef = {
  name: 'list_tokens',
  method: 'get',
  path: '/tokens',
  access: 'authenticated',
  summary: "List tokens (never their values): the caller's own, or anyone's for admins (?username=)",
  query: [{ name: 'username', description: 'admins only: whose tokens' }],
  handler: async ({ runtime, principal, query }) => {
    const isAdmin = principal?.role === 'admin';
    if (query.username && !isAdmin && query.username !== principal?.username) {
      throw new GatekeeperError('EFORBIDDEN', "only admins may list other users' tokens. Leave out the user to list your own");
    }
    const username = isAdmin ? query.username : principal?.username;
    return ok({ items: await runtime.identity.listTokens({ username }) });
  },
};

export const delete_token: RouteDef = {
  name: 'delete_token',
  method: 'delete',
  path: '/tokens/:id',
  access: 'authenticated',
  summary: 'Revoke a token (your own, or any for admins); refused from its next use',
  handler: async ({ runtime, actor, principal, params }) => ok(await runtime.identity.revokeToken(actor, parseId(params.id), principal)),
};

export const create_service_account_token: RouteDef = {
  name: 'create_service_account_token',
  method: 'post',
  path: '/service-accounts/:name/tokens',
  access: 'govern',
  responses: CREATED,
  summary:
    "A token for a service account (a CI user that is no IdP user and has no password; created at its first token): scoped to 'read' or 'publish:@scope[,@scope…]' and expiring, both enforced on every request. The token is shown once",
  body: [
    { name: 'scope', description: "'read', or 'publish:@acme' (writes only to names in these scopes)", required: true },
    { name: 'expires', description: 'a duration, like 30d or 12h (at most 400d)', required: true },
  ],
  handler: async ({ runtime, actor, params, body }) =>
    ok(await runtime.identity.createServiceAccountToken(actor, { name: params.name, scope: body.scope, expires: body.expires })),
};
