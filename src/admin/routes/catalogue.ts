import { assertPackageName } from '../../core/names';
import { CREATED, ok, ParamDoc, RouteContext, RouteDef, scopedVariant } from '../route';

/** `:name`, or `:scope/:name` for a scoped name written with a slash. */
const packageName = (params: Record<string, string>) => assertPackageName(params.scope ? `${params.scope}/${params.name}` : params.name);

const TAG_BODY: ParamDoc[] = [
  { name: 'name', description: 'display name, 1 to 64 characters; unique without regard to case' },
  { name: 'slug', description: "URL name: lower-case words joined by dashes (default: from the name); unique" },
  { name: 'colour', description: "hex colour such as '#3366cc'; null clears it" },
  { name: 'color', description: 'the same as colour' },
  { name: 'description', description: 'what the tag is for, at most 500 characters' },
];

/** Creating a tag needs its name; a change (update_tag) gives any of the fields. */
const CREATE_TAG_BODY: ParamDoc[] = TAG_BODY.map((p) => (p.name === 'name' ? { ...p, required: true } : p));

export const list_tags: RouteDef = {
  name: 'list_tags',
  method: 'get',
  path: '/tags',
  access: 'explain',
  summary: 'Tags by name, each with how many packages carry it',
  query: [{ name: 'all', description: 'true: deleted tags too', type: 'boolean' }],
  handler: async ({ runtime, query }) => ok(await runtime.tags.list(query)),
};

export const create_tag: RouteDef = {
  name: 'create_tag',
  method: 'post',
  path: '/tags',
  access: 'govern',
  responses: CREATED,
  summary: 'Create a tag',
  body: CREATE_TAG_BODY,
  handler: async ({ runtime, actor, body }) => ok(await runtime.tags.create(actor, body)),
};

export const update_tag: RouteDef = {
  name: 'update_tag',
  method: 'patch',
  path: '/tags/:tag',
  access: 'govern',
  summary: 'Rename a tag (by slug or name) or change its slug, colour or description; what is not given stays',
  body: TAG_BODY,
  handler: async ({ runtime, actor, params, body }) => ok(await runtime.tags.update(actor, params.tag, body)),
};

export const delete_tag: RouteDef = {
  name: 'delete_tag',
  method: 'delete',
  path: '/tags/:tag',
  access: 'govern',
  summary: 'Delete a tag (soft: it leaves every package and frees its name and slug; the audit log keeps it)',
  handler: async ({ runtime, actor, params }) => ok(await runtime.tags.remove(actor, params.tag)),
};

const listPackageTags = async ({ runtime, params }: RouteContext) => ok(await runtime.tags.forPackage(packageName(params)));
const assignPackageTag = async ({ runtime, actor, params, body }: RouteContext) => ok(await runtime.tags.assign(actor, packageName(params), body.tag));
const unassignPackageTag = async ({ runtime, actor, params }: RouteContext) => ok(await runtime.tags.unassign(actor, packageName(params), params.tag));

export const list_package_tags: RouteDef = {
  name: 'list_package_tags',
  method: 'get',
  path: '/packages/:name/tags',
  access: 'explain',
  summary: "A package's tags, with who assigned each and when (scoped names URL-encoded)",
  handler: listPackageTags,
};

export const list_scoped_package_tags = scopedVariant(list_package_tags);

export const create_package_tag: RouteDef = {
  name: 'create_package_tag',
  method: 'post',
  path: '/packages/:name/tags',
  access: 'publish',
  responses: CREATED,
  summary: 'Assign a tag to a package (admins and publishers)',
  body: [{ name: 'tag', description: 'the slug or name of a tag', required: true }],
  handler: assignPackageTag,
};

export const create_scoped_package_tag = scopedVariant(create_package_tag);

export const delete_package_tag: RouteDef = {
  name: 'delete_package_tag',
  method: 'delete',
  path: '/packages/:name/tags/:tag',
  access: 'publish',
  summary: 'Remove a tag from a package (admins and publishers)',
  handler: unassignPackageTag,
};

export const delete_scoped_package_tag = scopedVariant(delete_package_tag);

export const list_packages: RouteDef = {
  name: 'list_packages',
  method: 'get',
  path: '/packages',
  access: 'explain',
  summary: 'The catalogue: known packages by name, each with its newest allowed version, license, tags and whether it is private',
  query: [
    { name: 'q', description: 'only names containing this text (any case)' },
    { name: 'tag', description: 'only packages with this tag (slug or name)' },
    { name: 'cursor', description: 'the nextCursor of the previous page' },
    { name: 'limit', description: 'page size, 1 to 100 (default 25)' },
  ],
  handler: async ({ runtime, query }) => ok(await runtime.catalogue.list(query)),
};

export const list_versions_by_tag: RouteDef = {
  name: 'list_versions_by_tag',
  method: 'get',
  path: '/versions',
  access: 'explain',
  summary: 'The versions view filtered by tag: every version of each package carrying the tag, with its decision',
  query: [
    { name: 'tag', description: 'slug or name of a tag (required)', required: true },
    { name: 'cursor', description: 'the nextCursor of the previous page' },
    { name: 'limit', description: 'packages per page, 1 to 50 (default 10)' },
  ],
  handler: async ({ runtime, query }) => ok(await runtime.catalogue.versionsWithTag(query, (name, packument) => runtime.publishing.listVersions(name, packument))),
};

export const get_dependents: RouteDef = {
  name: 'get_dependents',
  method: 'get',
  path: '/dependents/:spec',
  access: 'explain',
  summary: 'Who depends on name@version (or any version of name), directly and transitively, across the catalogue and recorded projects',
  query: [
    { name: 'depth', description: 'how many steps to walk, 1 (direct only) to 25 (default 10)' },
    { name: 'limit', description: 'dependents listed, 1 to 5000 (default 1000); the total is always given' },
  ],
  handler: async ({ runtime, params, query }) => ok(await runtime.catalogue.dependents(params.spec, query)),
};
