import { GatekeeperError } from '../../core/errors';
import { parseExactSpec } from '../../core/names';
import { parseId } from '../../services/governance';
import { CREATED, ok, RouteDef } from '../route';

export const create_request: RouteDef = {
  name: 'create_request',
  method: 'post',
  path: '/requests',
  access: 'explain',
  responses: CREATED,
  summary: 'Ask for a package; the automated checks run at once and are stored on the request',
  body: [
    { name: 'name', description: 'package name', required: true },
    { name: 'range', description: "semver range, default '*'" },
    { name: 'reason', description: 'why it is needed (required)', required: true },
    { name: 'withDependencies', description: 'true: queue a child request for every dependency the policy does not allow yet' },
  ],
  handler: async ({ runtime, actor, body, principal }) => ok(await runtime.requests.create(actor, body, principal)),
};

export const create_request_batch: RouteDef = {
  name: 'create_request_batch',
  method: 'post',
  path: '/requests/batch',
  access: 'explain',
  responses: CREATED,
  summary: 'File one request per blocked name@version of a lockfile, as one batch (each decided as /lockfile/check decides it); versions that exist nowhere are listed in notFound, not filed',
  body: [
    { name: 'entries', description: '[{name, version}]', required: true },
    { name: 'reason', description: 'why' },
  ],
  handler: async ({ runtime, actor, body, principal }) => ok(await runtime.requests.createBatch(actor, body, principal)),
};

export const list_requests: RouteDef = {
  name: 'list_requests',
  method: 'get',
  path: '/requests',
  access: 'explain',
  summary: "Requests, oldest first: an admin's view of all, everyone else's of their own",
  query: [
    { name: 'status', description: 'pending, approved, rejected or cancelled' },
    { name: 'mine', description: 'true: only the caller\'s', type: 'boolean' },
    { name: 'cursor', description: 'the nextCursor of the previous page' },
    { name: 'limit', description: 'page size, 1 to 500' },
  ],
  handler: async ({ runtime, principal, query }) => ok(await runtime.requests.list(principal, query)),
};

export const get_request: RouteDef = {
  name: 'get_request',
  method: 'get',
  path: '/requests/:id',
  access: 'explain',
  summary: 'One request with every check result and its dependency tree and child requests',
  handler: async ({ runtime, principal, params }) => ok(await runtime.requests.get(principal, parseId(params.id))),
};

export const approve_request: RouteDef = {
  name: 'approve_request',
  method: 'post',
  path: '/requests/:id/approve',
  access: 'govern',
  summary: 'Approve a request (creates the approval); with dependencies, approve its child requests too',
  body: [
    { name: 'comment', description: 'optional' },
    { name: 'withDependencies', description: 'true: approve the queued dependency requests as well' },
  ],
  handler: async ({ runtime, actor, params, body }) => ok(await runtime.requests.approve(actor, parseId(params.id), body)),
};

export const reject_request: RouteDef = {
  name: 'reject_request',
  method: 'post',
  path: '/requests/:id/reject',
  access: 'govern',
  summary: 'Reject a request (and its pending dependency requests)',
  body: [{ name: 'comment', description: 'why' }],
  handler: async ({ runtime, actor, principal, params, body }) => ok(await runtime.requests.close(actor, principal, parseId(params.id), 'rejected', body)),
};

export const cancel_request: RouteDef = {
  name: 'cancel_request',
  method: 'post',
  path: '/requests/:id/cancel',
  access: 'explain',
  summary: 'Withdraw your own request',
  body: [{ name: 'comment', description: 'optional: why' }],
  handler: async ({ runtime, actor, principal, params, body }) => ok(await runtime.requests.close(actor, principal, parseId(params.id), 'cancelled', body)),
};

export const create_approval_tree: RouteDef = {
  name: 'create_approval_tree',
  method: 'post',
  path: '/approvals/tree',
  access: 'govern',
  responses: CREATED,
  summary: 'Approve name@range and every package of its resolved production dependency tree',
  body: [
    { name: 'name', description: 'package name', required: true },
    { name: 'range', description: "semver range, default '*'" },
    { name: 'reason', description: 'why' },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.requests.approveTree(actor, body)),
};

export const check_lockfile: RouteDef = {
  name: 'check_lockfile',
  method: 'post',
  path: '/lockfile/check',
  access: 'explain',
  summary: 'Would every entry of a lockfile install? Blocked entries with their code and reason; optionally record it as a project',
  body: [
    { name: 'entries', description: '[{name, version, integrity?, dev?}]', required: true },
    { name: 'project', description: 'optional {name, version, format}: record the entries as this project (as POST /projects: a version someone else recorded only admins may replace)' },
  ],
  // Without a project to record, only a question (CI's pre-flight, with a service account's token too).
  onlyAsks: (body) => body.project === undefined || body.project === null,
  handler: async ({ runtime, actor, principal, body }) => {
    if (body.project !== undefined && body.project !== null && (typeof body.project !== 'object' || Array.isArray(body.project))) {
      throw new GatekeeperError('EVALIDATION', 'project must be an object {name, version, format}. Send the project the request is for, or leave project out');
    }
    const checks = await runtime.governance.checkEntries(body.entries);
    // A version neither here nor upstream would not install, whatever the policy says of it: that is its reason.
    const blocked = checks
      .filter((c) => !c.allowed || !c.known)
      .map(({ name, version, code, reason, ruleId, known }) =>
        known ? { name, version, code, reason, ruleId } : { name, version, code: 'ENOTFOUND', reason: `${name}@${version} is not in this registry or its upstream, so it would not install. Check the lockfile's version`, ruleId: null },
      );
    const project = body.project as { name?: unknown; version?: unknown; format?: unknown } | undefined;
    const recorded = project ? await runtime.projects.record(actor, { ...project, entries: body.entries }, principal) : undefined;
    return ok({ ok: blocked.length === 0, checked: checks.length, blocked, project: recorded });
  },
};

export const create_project: RouteDef = {
  name: 'create_project',
  method: 'post',
  path: '/projects',
  access: 'explain',
  responses: CREATED,
  summary:
    "Record a lockfile as a project (name and version from its package.json), replacing that version's memberships; a version someone else recorded only admins may replace (403 EFORBIDDEN naming who recorded it)",
  body: [
    { name: 'name', description: 'project name', required: true },
    { name: 'version', description: 'project version' },
    { name: 'format', description: 'lockfile format' },
    { name: 'entries', description: '[{name, version, integrity, dev}]', required: true },
  ],
  handler: async ({ runtime, actor, principal, body }) => ok(await runtime.projects.record(actor, body, principal)),
};

export const get_usage: RouteDef = {
  name: 'get_usage',
  method: 'get',
  path: '/usage/:spec',
  access: 'explain',
  summary: 'Which recorded projects use name@version (or any version of name): the impact of a ban',
  handler: async ({ runtime, params }) => {
    const spec = params.spec;
    const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
    if (at === -1) return ok(await runtime.projects.usage(spec, undefined));
    const { name, version } = parseExactSpec(spec);
    return ok(await runtime.projects.usage(name, version));
  },
};
