import { CREATED, ok, RouteDef } from '../route';

export const list_advisories: RouteDef = {
  name: 'list_advisories',
  method: 'get',
  path: '/advisories',
  access: 'explain',
  summary: 'Known advisories (from the upstream or imported), for one package or all',
  query: [{ name: 'name', description: 'package name' }],
  handler: async ({ runtime, query }) => ok({ items: await runtime.advisories.list(query.name), source: runtime.advisories.health() }),
};

export const import_advisories: RouteDef = {
  name: 'import_advisories',
  method: 'post',
  path: '/advisories/import',
  access: 'govern',
  responses: CREATED,
  summary: 'Import advisories offline from an OSV document (or an array of them)',
  body: [{ name: '(body)', description: 'the OSV JSON' }],
  handler: async ({ runtime, actor, req }) => ok(await runtime.advisories.importOsv(actor, req.body)),
};

export const flag_malware: RouteDef = {
  name: 'flag_malware',
  method: 'post',
  path: '/advisories/malware',
  access: 'govern',
  responses: CREATED,
  summary: 'Flag a package (or a range of it) as malware by hand: the malware rule blocks it (EMALWARE) in every process; audited',
  body: [
    { name: 'name', description: 'package name', required: true },
    { name: 'range', description: 'semver range (default: every version)' },
    { name: 'reason', description: 'why it is malware (required)', required: true },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.advisories.flag(actor, { name: body.name, range: body.range, reason: body.reason })),
};

export const create_advisory_override: RouteDef = {
  name: 'create_advisory_override',
  method: 'post',
  path: '/advisories/overrides',
  access: 'govern',
  responses: CREATED,
  summary: 'Override an advisory or malware entry of a package (a false positive): it blocks nothing from then on; an id shown by several entries (one advisory from several sources) overrides them all, a key only its entry; audited per entry',
  body: [
    { name: 'name', description: 'package name', required: true },
    { name: 'id', description: "the entry's id (or key), as gatekeeper advisories list shows it", required: true },
    { name: 'reason', description: 'why it is a false positive (required)', required: true },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.advisories.override(actor, { name: body.name, id: body.id, reason: body.reason })),
};

export const delete_advisory_override: RouteDef = {
  name: 'delete_advisory_override',
  method: 'delete',
  path: '/advisories/overrides',
  access: 'govern',
  summary: "Undo an override: the entry blocks again (by id, every entry showing it; by key, that entry); audited",
  query: [
    { name: 'name', description: 'package name', required: true },
    { name: 'id', description: "the entry's id (or key)", required: true },
  ],
  handler: async ({ runtime, actor, query }) => ok(await runtime.advisories.override(actor, { name: query.name, id: query.id, remove: true })),
};

export const get_advisory_sync: RouteDef = {
  name: 'get_advisory_sync',
  method: 'get',
  path: '/advisories/sync',
  access: 'govern',
  summary: 'What gatekeeper advisories sync read before from a directory: each file (relative path) with its modification time',
  query: [{ name: 'root', description: "the directory's absolute path", required: true }],
  handler: async ({ runtime, query }) => ok(await runtime.advisories.syncState(query.root)),
};

export const sync_advisories: RouteDef = {
  name: 'sync_advisories',
  method: 'post',
  path: '/advisories/sync',
  access: 'govern',
  summary: 'Import OSV files a directory sync read (new or changed ones) and record their modification times; files that are not OSV are reported and tried again next time',
  body: [
    { name: 'root', description: "the directory's absolute path", required: true },
    { name: 'files', description: 'up to 5000 {path (relative), mtimeMs, document (the OSV JSON)}', required: true },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.advisories.syncFiles(actor, { root: body.root, files: body.files })),
};

export const list_advisory_impact: RouteDef = {
  name: 'list_advisory_impact',
  method: 'get',
  path: '/advisories/impact',
  access: 'govern',
  summary:
    'Impact records: advisories and malware entries that affect versions recorded projects use (gatekeeper check --record, POST /projects), with the versions in use, the projects and the state (open, resolved, withdrawn, overridden)',
  query: [
    { name: 'package', description: 'only this package' },
    { name: 'state', description: 'open, resolved, withdrawn or overridden' },
  ],
  handler: async ({ runtime, query }) => ok(await runtime.impact.list({ package: query.package, state: query.state })),
};
