import { groupByLicense } from '../../services/licenses';
import { CREATED, ok, RouteDef } from '../route';

export const get_license_policy: RouteDef = {
  name: 'get_license_policy',
  method: 'get',
  path: '/licenses',
  access: 'explain',
  summary: 'The license policy: allowlist, denylist, and what happens to licenses that cannot be evaluated',
  handler: async ({ runtime }) => ok(await runtime.licenses.getPolicy()),
};

export const update_license_policy: RouteDef = {
  name: 'update_license_policy',
  method: 'put',
  path: '/licenses',
  access: 'govern',
  summary:
    'Replace the fields given (allow, deny, unknown; at least one); an empty allowlist turns the rule off. A change to what is already set changes nothing and is not audited',
  body: [
    { name: 'allow', description: 'SPDX ids, id+, id WITH exception, LicenseRef-..., or UNLICENSED' },
    { name: 'deny', description: 'the same; wins over allow, not over a waiver' },
    { name: 'unknown', description: 'block (default) or allow licenses that cannot be evaluated' },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.licenses.setPolicy(actor, body)),
};

export const list_license_waivers: RouteDef = {
  name: 'list_license_waivers',
  method: 'get',
  path: '/licenses/waivers',
  access: 'explain',
  summary: 'License waivers, oldest first, with cursor pagination',
  query: [
    { name: 'name', description: 'only waivers for this package' },
    { name: 'cursor', description: 'the nextCursor of the previous page' },
    { name: 'limit', description: 'page size, 1 to 500' },
  ],
  handler: async ({ runtime, query }) => ok(await runtime.licenses.listWaivers(query)),
};

export const create_license_waiver: RouteDef = {
  name: 'create_license_waiver',
  method: 'post',
  path: '/licenses/waivers',
  access: 'govern',
  responses: CREATED,
  summary: 'Let a package range through despite its license',
  body: [
    { name: 'name', description: 'package name', required: true },
    { name: 'range', description: "semver range, default '*'" },
    { name: 'reason', description: 'required', required: true },
    { name: 'expiresIn', description: 'duration such as 90d (or expiresAt; not both)' },
    { name: 'expiresAt', description: 'an ISO 8601 date or date-time with Z or an offset, e.g. 2027-01-31 or 2027-01-31T12:00:00Z (or expiresIn; not both)' },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.licenses.waive(actor, body)),
};

export const delete_license_waiver: RouteDef = {
  name: 'delete_license_waiver',
  method: 'delete',
  path: '/licenses/waivers/:id',
  access: 'govern',
  summary: 'Remove a waiver',
  handler: async ({ runtime, actor, params }) => ok(await runtime.licenses.unwaive(actor, params.id)),
};

export const create_license_report: RouteDef = {
  name: 'create_license_report',
  method: 'post',
  path: '/licenses/report',
  access: 'explain',
  summary: 'The licenses of a dependency tree ({entries: [{name, version}]}), grouped by license, violations marked',
  body: [{ name: 'entries', description: 'every name@version of the tree, e.g. from a lockfile', required: true }],
  onlyAsks: () => true,
  handler: async ({ runtime, body }) => {
    const entries = await runtime.governance.checkEntries(body.entries);
    return ok({ groups: groupByLicense(entries), entries });
  },
};
