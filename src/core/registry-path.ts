import { GatekeeperError } from './errors';
import { isValidPackageName, versionFromTarball } from './names';

/**
 * What a registry request path asks for. Scoped names may arrive as `@scope/name`,
 * `@scope%2fname` or `@scope%2Fname`.
 */
export type RegistryPath =
  | { kind: 'packument'; name: string }
  | { kind: 'version'; name: string; spec: string }
  | { kind: 'tarball'; name: string; filename: string; version: string | undefined };

function decode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new GatekeeperError('EINVALIDNAME', `'${segment}' is not a valid URL path segment. Check the URL`);
  }
}

/** Returns undefined for paths that are not about a package (e.g. `/-/ping`, `/`). */
export function parseRegistryPath(rawPath: string): RegistryPath | undefined {
  if (!rawPath.startsWith('/') || rawPath.startsWith('/-/')) return undefined;
  const segments = rawPath.slice(1).split('/').filter((s) => s !== '').map(decode);
  if (segments.length === 0) return undefined;
  // Re-join a scope written with a literal slash: /@scope/name/...
  let name: string;
  let rest: string[];
  if (segments[0].startsWith('@') && !segments[0].includes('/')) {
    if (segments.length < 2) return undefined;
    name = `${segments[0]}/${segments[1]}`;
    rest = segments.slice(2);
  } else {
    name = segments[0];
    rest = segments.slice(1);
  }
  if (!isValidPackageName(name)) return undefined;
  if (rest.length === 0) return { kind: 'packument', name };
  if (rest.length === 1 && rest[0] !== '-') return { kind: 'version', name, spec: rest[0] };
  if (rest.length === 2 && rest[0] === '-' && rest[1].endsWith('.tgz')) {
    return { kind: 'tarball', name, filename: rest[1], version: versionFromTarball(name, rest[1]) };
  }
  // Scoped tarballs are sometimes requested as /@scope/name/-/@scope/name-1.0.0.tgz.
  if (rest.length === 3 && rest[0] === '-' && rest[1].startsWith('@') && rest[2].endsWith('.tgz')) {
    return { kind: 'tarball', name, filename: rest[2], version: versionFromTarball(name, rest[2]) };
  }
  return undefined;
}

/** What a registry write asks for (npm publish, unpublish, deprecate, dist-tag). */
export type WritePath =
  | { kind: 'publish'; name: string } // PUT /<name>: a publish, a deprecation or a star
  | { kind: 'change'; name: string } // PUT /<name>/-rev/<rev>: the document minus unpublished versions
  | { kind: 'unpublish'; name: string } // DELETE /<name>/-rev/<rev>: the whole package
  | { kind: 'remove-tarball'; name: string; filename: string; version: string | undefined }
  | { kind: 'dist-tag'; name: string; tag: string | undefined };

function splitName(segments: string[]): { name: string; rest: string[] } | undefined {
  if (segments.length === 0) return undefined;
  const scoped = segments[0].startsWith('@') && !segments[0].includes('/');
  const name = scoped ? `${segments[0]}/${segments[1] ?? ''}` : segments[0];
  if (!isValidPackageName(name)) return undefined;
  return { name, rest: segments.slice(scoped ? 2 : 1) };
}

export function parseWritePath(method: string, rawPath: string): WritePath | undefined {
  if (!rawPath.startsWith('/')) return undefined;
  const segments = rawPath.slice(1).split('/').filter((s) => s !== '').map(decode);
  if (segments[0] === '-') {
    // /-/package/<name>/dist-tags[/<tag>]
    if (segments[1] !== 'package') return undefined;
    const parsed = splitName(segments.slice(2));
    if (!parsed || parsed.rest[0] !== 'dist-tags' || parsed.rest.length > 2) return undefined;
    if (method === 'GET') return undefined;
    return { kind: 'dist-tag', name: parsed.name, tag: parsed.rest[1] };
  }
  const parsed = splitName(segments);
  if (!parsed) return undefined;
  const { name, rest } = parsed;
  if (method === 'PUT' && rest.length === 0) return { kind: 'publish', name };
  if (method === 'PUT' && rest[0] === '-rev' && rest.length === 2) return { kind: 'change', name };
  // The old tagging route: PUT /<name>/<tag> with the version as the body.
  if (method === 'PUT' && rest.length === 1 && rest[0] !== '-') return { kind: 'dist-tag', name, tag: rest[0] };
  if (method === 'DELETE' && rest[0] === '-rev' && rest.length === 2) return { kind: 'unpublish', name };
  if (method === 'DELETE' && rest[0] === '-' && rest[2] === '-rev' && rest.length === 4) {
    return { kind: 'remove-tarball', name, filename: rest[1], version: versionFromTarball(name, rest[1]) };
  }
  return undefined;
}
