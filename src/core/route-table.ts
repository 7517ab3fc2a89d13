import { isValidPackageName } from './names';

/**
 * Matching a request against a route table. Pure: the registry's table lives in
 * src/server/registry/routes.ts; this turns a method and a raw URL into the route it names,
 * or says why none does. Nothing that fails to match is ever passed on: the caller refuses it.
 *
 * Path patterns are `/`-separated segments:
 * - a literal (`-`, `dist-tags`, `-rev`) matches itself;
 * - `:package` matches a package name: one segment (`lodash`, `@scope%2fname`) or two
 *   (`@scope/name`), and only a valid name;
 * - `:other` matches any one non-empty segment (decoded);
 * - a final `*` matches the rest of the path (zero or more segments), given as `params['*']`.
 * GET routes answer HEAD too. A route whose methods are `['*']` takes every method: its handler
 * owns the path and answers an unknown method itself (the admin API, whose router knows each
 * path's methods, answers OPTIONS with them and anything else it lacks with 405 and `Allow`).
 */

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE' | 'PATCH' | '*';

export interface RoutePattern {
  methods: readonly HttpMethod[];
  path: string;
}

export type RouteMatch<R> =
  | { kind: 'match'; route: R; params: Record<string, string>; query: URLSearchParams }
  /** The path is known, the method is not: 405 with `Allow`. */
  | { kind: 'method'; allow: HttpMethod[] }
  /** The path is malformed (bad percent-encoding, or a package segment that is no valid name). */
  | { kind: 'invalid'; reason: string }
  | { kind: 'none' };

type Token = { literal: string } | { param: string } | { package: true } | { rest: true };

function tokenize(path: string): Token[] {
  if (path === '/') return [];
  const parts = path.split('/').slice(1);
  return parts.map((part, i): Token => {
    if (part === '*') {
      if (i !== parts.length - 1) throw new Error(`route ${path}: '*' must be last`);
      return { rest: true };
    }
    if (part === ':package') return { package: true };
    if (part.startsWith(':')) return { param: part.slice(1) };
    return { literal: part };
  });
}

/** Splits a raw path into decoded segments; undefined when a segment is not valid percent-encoding or is `.`/`..`. */
export function pathSegments(rawPath: string): string[] | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  let raw = rawPath.slice(1).split('/');
  // One trailing slash is tolerated (`/lodash/`), empty segments elsewhere are not.
  if (raw.length > 1 && raw[raw.length - 1] === '') raw = raw.slice(0, -1);
  if (raw.length === 1 && raw[0] === '') return [];
  const out: string[] = [];
  for (const segment of raw) {
    if (segment === '') return undefined;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (decoded === '.' || decoded === '..' || decoded.includes('\0')) return undefined;
    out.push(decoded);
  }
  return out;
}

/**
 * A request target as Verdaccio's router reads it, for a request passed on to it: every path
 * segment percent-encoded once (decoded first, as the route table matched it), the package
 * name as one segment (`@scope%2fname`), the query as it came. However the client spelled the
 * path, Verdaccio then acts on the name and path the gate checked: `/@ac%6de/w6` is `@acme/w6`
 * to the table, but a package `@ac%6de` and a second segment `w6` to Verdaccio's router, which
 * joins a scope to its name only when the scope has no `%`. Undefined for a path pathSegments
 * refuses.
 */
export function canonicalTarget(url: string, packageName: string | undefined): string | undefined {
  const q = url.indexOf('?');
  const segments = pathSegments(q === -1 ? url : url.slice(0, q));
  if (!segments) return undefined;
  const out: string[] = [];
  let named = packageName === undefined;
  for (let i = 0; i < segments.length; i++) {
    if (!named && packageName !== undefined) {
      const joined = packageName.startsWith('@') && !segments[i].includes('/') && i + 1 < segments.length ? `${segments[i]}/${segments[i + 1]}` : segments[i];
      if (joined === packageName) {
        out.push(packageName.startsWith('@') ? `@${encodeURIComponent(packageName.slice(1)).replace('%2F', '%2f')}` : encodeURIComponent(packageName));
        if (joined !== segments[i]) i++;
        named = true;
        continue;
      }
    }
    out.push(encodeURIComponent(segments[i]));
  }
  return `/${out.join('/')}${q === -1 ? '' : url.slice(q)}`;
}

interface Attempt {
  params: Record<string, string>;
  /** A `:package` slot held something that is not a valid package name. */
  badName?: string;
}

/**
 * Matches one route's tokens against the segments. Nothing is allocated for a route that does
 * not match before its first parameter (most routes, for most requests: this runs for every
 * route on every request, on the hottest path there is).
 */
function matchTokens(tokens: readonly Token[], segments: readonly string[], from = 0): Attempt | undefined {
  let params: Record<string, string> | undefined;
  let s = from;
  for (let t = 0; t < tokens.length; t++) {
    const token = tokens[t];
    if ('rest' in token) {
      (params ??= {})['*'] = segments.slice(s).join('/');
      return { params };
    }
    const segment = segments[s];
    if (segment === undefined) return undefined;
    if ('literal' in token) {
      if (segment !== token.literal) return undefined;
      s += 1;
    } else if ('param' in token) {
      (params ??= {})[token.param] = segment;
      s += 1;
    } else {
      // `/-/…` is the registry's own namespace, never a package.
      if (segment === '-') return undefined;
      // A scope written with a literal slash takes two segments: /@scope/name.
      let name = segment;
      if (segment.startsWith('@') && !segment.includes('/')) {
        const next = segments[s + 1];
        if (next === undefined) return undefined;
        name = `${segment}/${next}`;
        s += 2;
      } else {
        s += 1;
      }
      if (!isValidPackageName(name)) {
        // Keep matching the shape, so a bad name is reported as such rather than as "no route".
        const rest = matchTokens(tokens.slice(t + 1), segments, s);
        return rest ? { params: { ...params, ...rest.params }, badName: name } : undefined;
      }
      (params ??= {}).package = name;
    }
  }
  return s === segments.length ? { params: params ?? {} } : undefined;
}

/** The query of a URL without one: shared by every such match, so it refuses to be changed. */
class EmptyQuery extends URLSearchParams {
  override append(): never {
    throw new TypeError('a route match without a query string has an empty query that cannot be changed');
  }
  override set(): never {
    return this.append();
  }
  override delete(): never {
    return this.append();
  }
  override sort(): void {}
}

const EMPTY_QUERY: URLSearchParams = new EmptyQuery();

export interface RouteMatcher<R extends RoutePattern> {
  match(method: string, rawUrl: string): RouteMatch<R>;
}

export function compileRoutes<R extends RoutePattern>(routes: readonly R[]): RouteMatcher<R> {
  const compiled = routes.map((route) => {
    const tokens = tokenize(route.path);
    // How many segments the route can take: a package one or two, a final `*` any number.
    let min = 0;
    let max = 0;
    for (const token of tokens) {
      if ('rest' in token) max = Infinity;
      else {
        min += 1;
        max += 'package' in token ? 2 : 1;
      }
    }
    const methods: readonly HttpMethod[] = route.methods.includes('GET') ? [...route.methods, 'HEAD'] : route.methods;
    return { route, tokens, methods, min, max };
  });
  return {
    match(method, rawUrl) {
      const q = rawUrl.indexOf('?');
      const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
      const segments = pathSegments(rawPath);
      if (!segments) return { kind: 'invalid', reason: `'${rawPath.slice(0, 200)}' is not a valid registry path` };
      const upper = method.toUpperCase();
      let allow: HttpMethod[] | undefined;
      let badName: string | undefined;
      for (const { route, tokens, methods, min, max } of compiled) {
        if (segments.length < min || segments.length > max) continue;
        const attempt = matchTokens(tokens, segments);
        if (!attempt) continue;
        if (attempt.badName !== undefined) {
          badName ??= attempt.badName;
          continue;
        }
        if (methods.includes(upper as HttpMethod) || methods[0] === '*') {
          if (q === -1) return { kind: 'match', route, params: attempt.params, query: EMPTY_QUERY };
          let query: URLSearchParams;
          try {
            query = new URLSearchParams(rawUrl.slice(q + 1));
          } catch {
            return { kind: 'invalid', reason: 'the query string is not valid' };
          }
          return { kind: 'match', route, params: attempt.params, query };
        }
        for (const m of methods) if (!(allow ??= []).includes(m)) allow.push(m);
      }
      if (allow) return { kind: 'method', allow };
      if (badName !== undefined) return { kind: 'invalid', reason: `'${badName.slice(0, 214)}' is not a valid package name` };
      return { kind: 'none' };
    },
  };
}
