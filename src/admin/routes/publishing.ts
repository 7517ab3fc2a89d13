import { assertPackageName } from '../../core/names';
import { parseId } from '../../services/governance';
import { CREATED, ok, RouteDef, scopedVariant } from '../route';

export const list_publish_rules: RouteDef = {
  name: 'list_publish_rules',
  method: 'get',
  path: '/publish-rules',
  access: 'explain',
  summary: 'Who may publish which private names; a name any rule covers is never fetched from the upstream',
  handler: async ({ runtime }) => ok({ items: await runtime.publishing.listRules() }),
};

export const create_publish_rule: RouteDef = {
  name: 'create_publish_rule',
  method: 'post',
  path: '/publish-rules',
  access: 'govern',
  responses: CREATED,
  summary: 'Declare a private name or scope and who may publish it',
  body: [
    { name: 'pattern', description: 'a package name or @scope/*', required: true },
    { name: 'role', description: 'a role that may publish (or user)' },
    { name: 'user', description: 'a username that may publish (or role)' },
    { name: 'shadowUpstream', description: 'true to declare an unscoped name that exists upstream' },
  ],
  handler: async ({ runtime, actor, body }) => ok(await runtime.publishing.addRule(actor, body)),
};

export const delete_publish_rule: RouteDef = {
  name: 'delete_publish_rule',
  method: 'delete',
  path: '/publish-rules/:id',
  access: 'govern',
  summary: 'Remove a publish rule',
  handler: async ({ runtime, actor, params }) => ok(await runtime.publishing.removeRule(actor, parseId(params.id))),
};

const listVersions: RouteDef['handler'] = async ({ runtime, params }) => {
  const name = assertPackageName(params.scope ? `${params.scope}/${params.name}` : params.name);
  const packument = runtime.governance.manifests ? await runtime.governance.manifests.getPackument(name) : undefined;
  const tags = (await runtime.tags.forPackage(name)).tags;
  return ok({ ...(await runtime.publishing.listVersions(name, packument)), tags });
};

export const list_package_versions: RouteDef = {
  name: 'list_package_versions',
  method: 'get',
  path: '/packages/:name/versions',
  access: 'explain',
  summary: 'Every version ever known (local or proxied), newest first: time, integrity, origin, state and decision',
  handler: listVersions,
};

export const list_scoped_package_versions = scopedVariant(list_package_versions);
