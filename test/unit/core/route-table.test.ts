import { isValidPackageName } from '../../../src/core/names';
import { canonicalTarget, compileRoutes, HttpMethod, pathSegments, RoutePattern } from '../../../src/core/route-table';
import { REGISTRY_ROUTES } from '../../../src/server/registry/routes';

interface Named extends RoutePattern {
  name: string;
}

const r = (name: string, methods: HttpMethod[], path: string): Named => ({ name, methods, path });

const table = compileRoutes<Named>([
  r('root', ['GET'], '/'),
  r('ping', ['GET'], '/-/ping'),
  r('user', ['PUT'], '/-/user/:user'),
  r('ui', ['GET'], '/-/ui/*'),
  r('tags', ['GET'], '/-/package/:package/dist-tags'),
  r('tag_write', ['PUT', 'POST'], '/-/package/:package/dist-tags/:tag'),
  r('tag_delete', ['DELETE'], '/-/package/:package/dist-tags/:tag'),
  r('packument', ['GET'], '/:package'),
  r('publish', ['PUT'], '/:package'),
  r('version', ['GET'], '/:package/:version'),
  r('tarball', ['GET'], '/:package/-/:filename'),
  r('scoped_tarball', ['GET'], '/:package/-/:scope/:filename'),
]);

function matched(method: string, url: string): { name: string; params: Record<string, string>; query: Record<string, string> } {
  const m = table.match(method, url);
  if (m.kind !== 'match') throw new Error(`${method} ${url}: ${JSON.stringify(m)}`);
  return { name: m.route.name, params: m.params, query: Object.fromEntries(m.query) };
}

describe('compileRoutes: matching', () => {
  it.each([
    ['GET', '/', 'root', {}],
    ['GET', '/-/ping', 'ping', {}],
    ['PUT', '/-/user/org.couchdb.user:alice', 'user', { user: 'org.couchdb.user:alice' }],
    ['GET', '/left-pad', 'packument', { package: 'left-pad' }],
    ['GET', '/left-pad/', 'packument', { package: 'left-pad' }],
    ['PUT', '/left-pad', 'publish', { package: 'left-pad' }],
    ['GET', '/@acme%2fwidgets', 'packument', { package: '@acme/widgets' }],
    ['GET', '/@acme/widgets', 'packument', { package: '@acme/widgets' }],
    ['GET', '/%40acme%2Fwidgets', 'packument', { package: '@acme/widgets' }],
    ['GET', '/left-pad/1.0.0', 'version', { package: 'left-pad', version: '1.0.0' }],
    ['GET', '/@acme/widgets/latest', 'version', { package: '@acme/widgets', version: 'latest' }],
    ['GET', '/left-pad/-/left-pad-1.0.0.tgz', 'tarball', { package: 'left-pad', filename: 'left-pad-1.0.0.tgz' }],
    ['GET', '/@acme/widgets/-/widgets-1.0.0.tgz', 'tarball', { package: '@acme/widgets', filename: 'widgets-1.0.0.tgz' }],
    ['GET', '/@acme%2fwidgets/-/@acme/widgets-1.0.0.tgz', 'scoped_tarball', { package: '@acme/widgets', scope: '@acme', filename: 'widgets-1.0.0.tgz' }],
    ['GET', '/-/package/left-pad/dist-tags', 'tags', { package: 'left-pad' }],
    ['POST', '/-/package/@acme/widgets/dist-tags/next', 'tag_write', { package: '@acme/widgets', tag: 'next' }],
    ['DELETE', '/-/package/left-pad/dist-tags/beta', 'tag_delete', { package: 'left-pad', tag: 'beta' }],
    ['GET', '/-/ui/', 'ui', { '*': '' }],
    ['GET', '/-/ui/assets/app.js', 'ui', { '*': 'assets/app.js' }],
    ['GET', '/-/ui', 'ui', { '*': '' }],
  ])('%s %s is %s with %j', (method, url, name, params) => {
    const m = matched(method, url);
    expect(m.name).toBe(name);
    expect(m.params).toEqual(params);
    expect(m.query).toEqual({});
  });

  it('answers HEAD with the GET route', () => {
    expect(matched('HEAD', '/left-pad').name).toBe('packument');
    expect(matched('head', '/left-pad/-/left-pad-1.0.0.tgz').name).toBe('tarball');
  });

  it('parses the query string, and gives an empty one that cannot be changed when there is none', () => {
    expect(matched('GET', '/left-pad?write=true&x=%20y').query).toEqual({ write: 'true', x: ' y' });
    const first = table.match('GET', '/left-pad');
    const second = table.match('GET', '/lodash');
    if (first.kind !== 'match' || second.kind !== 'match') throw new Error('no match');
    expect(first.query.size).toBe(0);
    expect(() => first.query.append('write', 'true')).toThrow(TypeError);
    expect(() => first.query.set('write', 'true')).toThrow(TypeError);
    expect(() => first.query.delete('write')).toThrow(TypeError);
    expect(second.query.size).toBe(0);
    expect(second.query.get('write')).toBeNull();
  });

  it('gives each match its own params', () => {
    const a = matched('GET', '/left-pad/1.0.0');
    const b = matched('GET', '/lodash/2.0.0');
    a.params.version = 'changed';
    expect(b.params).toEqual({ package: 'lodash', version: '2.0.0' });
    expect(matched('GET', '/left-pad/1.0.0').params.version).toBe('1.0.0');
  });
});

describe('compileRoutes: what does not match', () => {
  it('lists the methods a known path answers (405), each once, GET with HEAD', () => {
    expect(table.match('DELETE', '/left-pad')).toEqual({ kind: 'method', allow: ['GET', 'HEAD', 'PUT'] });
    expect(table.match('GET', '/-/package/left-pad/dist-tags/next')).toEqual({ kind: 'method', allow: ['PUT', 'POST', 'DELETE'] });
    expect(table.match('POST', '/-/ping')).toEqual({ kind: 'method', allow: ['GET', 'HEAD'] });
  });

  it.each([
    ['/left-pad/1.0.0/extra/more'],
    ['/-/nothing'],
    ['/-'],
    ['/-/user'],
    ['/-/package/left-pad'],
    ['/@acme'],
  ])('%s names no route', (url) => {
    expect(table.match('GET', url)).toEqual({ kind: 'none' });
  });

  it.each([
    ['/left-pad//1.0.0', 'not a valid registry path'],
    ['/%E0%A4%A', 'not a valid registry path'],
    ['/left-pad/..', 'not a valid registry path'],
    ['/left-pad/%2e', 'not a valid registry path'],
    ['/left%00pad', 'not a valid registry path'],
    ['left-pad', 'not a valid registry path'],
    ['/Bad Name', "'Bad Name' is not a valid package name"],
    ['/-/package/Bad%20Name/dist-tags', "'Bad Name' is not a valid package name"],
  ])('%s is invalid: %s', (url, reason) => {
    const m = table.match('GET', url);
    expect(m.kind).toBe('invalid');
    expect(m.kind === 'invalid' && m.reason).toContain(reason);
  });

  it('reports a bad package name only where the rest of the path has the shape of a route', () => {
    expect(table.match('GET', '/Bad Name/-/x.tgz')).toEqual({ kind: 'invalid', reason: "'Bad Name' is not a valid package name" });
    expect(table.match('GET', '/Bad Name/a/b/c/d')).toEqual({ kind: 'none' });
  });

  it('never takes the registry namespace for a package', () => {
    expect(table.match('GET', '/-/left-pad').kind).toBe('none');
  });
});

describe('the registry table', () => {
  const registry = compileRoutes(REGISTRY_ROUTES);

  it.each([
    ['GET', '/lodash', 'packument'],
    ['GET', '/@types/node', 'packument'],
    ['GET', '/lodash/-/lodash-4.17.21.tgz', 'tarball'],
    ['GET', '/@types%2fnode/-/node-20.0.0.tgz', 'tarball'],
    ['GET', '/lodash/4.17.21', 'version'],
    ['PUT', '/lodash', 'publish'],
    ['GET', '/-/gatekeeper/v1/policy', 'admin_api'],
    ['PATCH', '/-/gatekeeper/v1/policy', 'admin_api'],
    ['POST', '/-/npm/v1/security/advisories/bulk', 'audit_bulk'],
    ['DELETE', '/lodash/-/lodash-4.17.21.tgz/-rev/3-abc', 'remove_tarball'],
  ])('%s %s is %s', (method, url, name) => {
    const m = registry.match(method, url);
    expect(m.kind === 'match' && m.route.name).toBe(name);
  });
});

/**
 * The matcher skips routes by segment count and allocates lazily. This reference does neither:
 * the table as the route-table module's header describes it, written plainly (every route,
 * every token, in order). Both must answer every path alike.
 */
function referenceMatch(routes: readonly Named[], method: string, rawUrl: string): unknown {
  const q = rawUrl.indexOf('?');
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  const segments = pathSegments(rawPath);
  if (!segments) return { kind: 'invalid', reason: `'${rawPath.slice(0, 200)}' is not a valid registry path` };
  const fit = (pattern: string[], at: number, params: Record<string, string>): { params: Record<string, string>; badName?: string } | undefined => {
    let s = at;
    for (let t = 0; t < pattern.length; t++) {
      const part = pattern[t];
      if (part === '*') return { params: { ...params, '*': segments.slice(s).join('/') } };
      if (s >= segments.length) return undefined;
      if (part === ':package') {
        if (segments[s] === '-') return undefined;
        const scoped = segments[s].startsWith('@') && !segments[s].includes('/');
        if (scoped && s + 1 >= segments.length) return undefined;
        const name = scoped ? `${segments[s]}/${segments[s + 1]}` : segments[s];
        s += scoped ? 2 : 1;
        if (!isValidPackageName(name)) {
          const rest = fit(pattern.slice(t + 1), s, {});
          return rest ? { params: { ...params, ...rest.params }, badName: name } : undefined;
        }
        params = { ...params, package: name };
      } else if (part.startsWith(':')) {
        params = { ...params, [part.slice(1)]: segments[s] };
        s += 1;
      } else if (part === segments[s]) s += 1;
      else return undefined;
    }
    return s === segments.length ? { params } : undefined;
  };
  const allow: string[] = [];
  let badName: string | undefined;
  for (const route of routes) {
    const found = fit(route.path === '/' ? [] : route.path.split('/').slice(1), 0, {});
    if (!found) continue;
    if (found.badName !== undefined) {
      badName ??= found.badName;
      continue;
    }
    const methods = route.methods.includes('GET') ? [...route.methods, 'HEAD'] : [...route.methods];
    if (methods.includes(method.toUpperCase()) || methods[0] === '*') return { kind: 'match', route, params: found.params, query: Object.fromEntries(new URLSearchParams(q === -1 ? '' : rawUrl.slice(q + 1))) };
    for (const m of methods) if (!allow.includes(m)) allow.push(m);
  }
  if (allow.length > 0) return { kind: 'method', allow };
  if (badName !== undefined) return { kind: 'invalid', reason: `'${badName.slice(0, 214)}' is not a valid package name` };
  return { kind: 'none' };
}

describe('compileRoutes: answers as the plain reading of its rules', () => {
  const routes: Named[] = [...REGISTRY_ROUTES.map((route) => ({ name: route.name, methods: route.methods, path: route.path })), r('ui', ['GET'], '/-/ui/*')];
  const table = compileRoutes(routes);
  const pool = ['-', 'lodash', '@acme', 'widgets', '@acme%2fwidgets', '%40acme%2Fwidgets', 'x-1.0.0.tgz', '1.0.0', 'latest', 'dist-tags', 'package', '-rev', '3-abc', 'Bad Name', 'a%20b', 'v1', 'gatekeeper', 'npm', 'security', 'ui', '%2e%2e', '', 'user', 'org.couchdb.user:x', 'token', 'login', 'a'.repeat(215)];
  let seed = 11;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;

  it('on 20,000 random paths, methods and query strings', () => {
    const kinds = new Set<string>();
    for (let i = 0; i < 20_000; i++) {
      const segments = Array.from({ length: 1 + random(5) }, () => pool[random(pool.length)]);
      const method = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH'][random(6)];
      const url = `/${segments.join('/')}${random(4) === 0 ? '?write=true' : ''}`;
      const got = table.match(method, url);
      kinds.add(got.kind);
      const plain = got.kind === 'match' ? { ...got, query: Object.fromEntries(got.query) } : got;
      expect([method, url, plain]).toEqual([method, url, referenceMatch(routes, method, url)]);
    }
    // Every kind of answer was met.
    expect([...kinds].sort()).toEqual(['invalid', 'match', 'method', 'none']);
  });
});

describe('canonicalTarget: what a request passed on to Verdaccio names', () => {
  it('encodes every segment once and the package as one segment, however the client spelled them', () => {
    expect(canonicalTarget('/@ac%6de/w6/-rev/1-a', '@acme/w6')).toBe('/@acme%2fw6/-rev/1-a');
    expect(canonicalTarget('/@acme/w6', '@acme/w6')).toBe('/@acme%2fw6');
    expect(canonicalTarget('/@acme%2Fw6?write=true', '@acme/w6')).toBe('/@acme%2fw6?write=true');
    expect(canonicalTarget('/%40acme%2fw6', '@acme/w6')).toBe('/@acme%2fw6');
    expect(canonicalTarget('/-/package/@ac%6de/w6/dist-tags/be%74a', '@acme/w6')).toBe('/-/package/@acme%2fw6/dist-tags/beta');
    expect(canonicalTarget('/pl%61in/-/plain-1.0.0.tgz/-rev/2-b', 'plain')).toBe('/plain/-/plain-1.0.0.tgz/-rev/2-b');
    expect(canonicalTarget('/plain/1.0.0%2Bbuild', 'plain')).toBe('/plain/1.0.0%2Bbuild');
    expect(canonicalTarget('/plain/', 'plain')).toBe('/plain');
    expect(canonicalTarget('/-/v1/login', undefined)).toBe('/-/v1/login');
  });

  it('reads back, through the route table, as the route and package the table matched', () => {
    const table = compileRoutes(REGISTRY_ROUTES);
    for (const [method, url] of [
      ['PUT', '/@ac%6de/w6'],
      ['DELETE', '/@ac%6de/w6/-rev/1-a'],
      ['PUT', '/-/package/@ac%6de/w6/dist-tags/beta'],
      ['PUT', '/@ac%6de/w6/beta'],
      ['GET', '/@ac%6de/w6?write=true'],
    ] as const) {
      const first = table.match(method, url);
      expect(first.kind).toBe('match');
      const again = table.match(method, canonicalTarget(url, first.kind === 'match' ? first.params.package : undefined) as string);
      expect({ url, again }).toEqual({ url, again: first });
    }
  });

  it('refuses what pathSegments refuses', () => {
    expect(canonicalTarget('/a/%zz', 'a')).toBeUndefined();
    expect(canonicalTarget('/a/..', 'a')).toBeUndefined();
  });
});
