import { ok, RouteDef } from '../route';

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
  summary: 'Import advisories offline from an OSV document (or an array of them)',
  body: [{ name: '(body)', description: 'the OSV JSON' }],
  handler: async ({ runtime, actor, req }) => ok(await runtime.advisories.importOsv(actor, req.body), 201),
};
