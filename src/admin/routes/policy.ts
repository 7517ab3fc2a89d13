import { exemptableRules, policyBodyFields } from '../../core/rules';
import { parseIsoDate } from '../../core/dates';
import { clampLimit, decodeCursor, INT8_SAFE_MAX } from '../../db/pagination';
import { CREATED, ok, RouteDef } from '../route';

const LIST_QUERY = [
  { name: 'name', description: 'only entries for this package name or scope pattern' },
  { name: 'cursor', description: 'the nextCursor of the previous page' },
  { name: 'limit', description: 'page size, 1 to 500 (default 100)' },
];

export const list_approvals: RouteDef = {
  name: 'list_approvals',
  method: 'get',
  path: '/approvals',
  access: 'explain',
  summary: 'List approvals, oldest first, with cursor pagination; with a tag, those of packages carrying it',
  query: [...LIST_QUERY, { name: 'tag', description: 'only approvals of packages with this tag (slug or name), and of their scopes' }],
  handler: async ({ runtime, query }) => ok(query.tag !== undefined ? await runtime.tags.approvals(query) : await runtime.governance.listApprovals(query)),
};

export const create_approval: RouteDef = {
  name: 'create_approval',
  method: 'post',
  path: '/approvals',
  access: 'govern',
  responses: CREATED,
  summary: 'Approve a package (name or @scope/*) for a semver range',
  body: [
    { name: 'name', description: 'package name or scope wildcard such as @acme/*', required: true },
    { name: 'range', description: "semver range, or an exact legacy version such as 1.0.0beta (ranges never match those); default '*'" },
    { name: 'reason', description: 'why it is approved' },
    { name: 'expiresIn', description: 'duration such as 30d (or expiresAt; not both)' },
    { name: 'expiresAt', description: 'an ISO 8601 date or date-time with Z or an offset, e.g. 2027-01-31 or 2027-01-31T12:00:00Z (or expiresIn; not both)' },
    { name: 'allowScripts', description: 'true: the approved versions may also run install scripts' },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.governance.approve(actor, body)),
};

export const delete_approval: RouteDef = {
  name: 'delete_approval',
  method: 'delete',
  path: '/approvals/:id',
  access: 'govern',
  summary: 'Remove an approval',
  handler: async ({ runtime, actor, params }) => ok(await runtime.governance.unapprove(actor, { id: params.id })),
};

export const list_bans: RouteDef = {
  name: 'list_bans',
  method: 'get',
  path: '/bans',
  access: 'explain',
  summary: 'List bans, oldest first, with cursor pagination',
  query: LIST_QUERY,
  handler: async ({ runtime, query }) => ok(await runtime.governance.listBans(query)),
};

export const create_ban: RouteDef = {
  name: 'create_ban',
  method: 'post',
  path: '/bans',
  access: 'govern',
  responses: CREATED,
  summary: 'Ban a package for a semver range; the reason is shown to users',
  body: [
    { name: 'name', description: 'package name', required: true },
    { name: 'range', description: "semver range, or an exact legacy version such as 1.0.0beta (ranges never match those); default '*'" },
    { name: 'reason', description: 'required; shown in every refusal', required: true },
    { name: 'advisoryUrl', description: 'optional link to an advisory' },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.governance.ban(actor, body)),
};

export const delete_ban: RouteDef = {
  name: 'delete_ban',
  method: 'delete',
  path: '/bans/:id',
  access: 'govern',
  summary: 'Remove a ban',
  handler: async ({ runtime, actor, params }) => ok(await runtime.governance.unban(actor, { id: params.id })),
};

export const get_policy: RouteDef = {
  name: 'get_policy',
  method: 'get',
  path: '/policy',
  access: 'explain',
  summary: 'The policy mode and generation',
  handler: async ({ runtime }) => ok(await runtime.governance.getPolicy()),
};

export const update_policy: RouteDef = {
  name: 'update_policy',
  method: 'patch',
  path: '/policy',
  access: 'govern',
  summary: 'Change the policy mode and rule settings; what is not given stays',
  body: [
    { name: 'mode', description: 'allowlist or open' },
    // One per rule of the rule table (src/core/rules).
    ...policyBodyFields(),
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.governance.updatePolicy(actor, body)),
};

export const list_exemptions: RouteDef = {
  name: 'list_exemptions',
  method: 'get',
  path: '/policy/exemptions',
  access: 'explain',
  summary: 'Exemptions from the minimum release age',
  handler: async ({ runtime }) => ok({ items: await runtime.governance.listExemptions() }),
};

export const create_exemption: RouteDef = {
  name: 'create_exemption',
  method: 'post',
  path: '/policy/exemptions',
  access: 'govern',
  responses: CREATED,
  summary: 'Exempt a package or scope (and range) from a rule that takes exemptions (release-age, new-publisher, provenance-downgrade)',
  body: [
    { name: 'rule', description: exemptableRules().join(', '), required: true },
    { name: 'name', description: 'package name or @scope/*', required: true },
    { name: 'range', description: "semver range, or an exact legacy version such as 1.0.0beta (ranges never match those); default '*'" },
    { name: 'reason', description: 'required', required: true },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.governance.exempt(actor, body)),
};

export const delete_exemption: RouteDef = {
  name: 'delete_exemption',
  method: 'delete',
  path: '/policy/exemptions/:id',
  access: 'govern',
  summary: 'Remove an exemption',
  handler: async ({ runtime, actor, params }) => ok(await runtime.governance.unexempt(actor, params.id)),
};

export const get_decision: RouteDef = {
  name: 'get_decision',
  method: 'get',
  path: '/decisions/:name/:version',
  access: 'explain',
  summary: 'Explain the decision for name@version and every rule that matched (scoped names URL-encoded)',
  handler: async ({ runtime, params }) => ok(await runtime.governance.explain(params.name, params.version)),
};

export const list_audit: RouteDef = {
  name: 'list_audit',
  method: 'get',
  path: '/audit',
  access: 'govern',
  summary: 'The audit log, newest first, filtered by package, actor, action and time',
  query: [
    { name: 'package', description: 'package name' },
    { name: 'actor', description: 'username' },
    { name: 'action', description: 'e.g. approval.create, install.blocked' },
    { name: 'since', description: 'ISO 8601 date or date-time with Z or an offset (2024-05-01, 2024-05-01T12:00:00Z), inclusive' },
    { name: 'until', description: 'ISO 8601 date or date-time with Z or an offset, exclusive' },
    ...LIST_QUERY.slice(1),
  ],
  handler: async ({ runtime, query }) => {
    const date = (v: string | undefined, field: string) => (v ? parseIsoDate(v, field) : undefined);
    return ok(
      await runtime.audit.list({
        package: query.package,
        actor: query.actor,
        action: query.action,
        since: date(query.since, 'since'),
        until: date(query.until, 'until'),
        before: decodeCursor(query.cursor, INT8_SAFE_MAX), // audit_log.id is a bigint
        limit: clampLimit(query.limit),
      }),
    );
  },
};
