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
    throw new GatekeeperError('EINVALIDNAME', `'${segment}' is not a valid URL path segment`);
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
