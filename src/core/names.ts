import semver from 'semver';
import validateName from 'validate-npm-package-name';
import { GatekeeperError } from './errors';
import { shownValue } from './text';
import { isLegacyVersion, isNamedVersion, isSemverVersion, MAX_VERSION_LENGTH } from './versions';

/**
 * Package names, versions and ranges are validated here before they reach storage,
 * SQL or a cache key.
 */

/** Names found valid before: every registry request checks its package name (hot path). */
const VALID_NAMES = new Set<string>();
const VALID_NAMES_MAX = 50_000;

export function isValidPackageName(name: string): boolean {
  if (typeof name !== 'string' || name.length === 0 || name.length > 214) return false;
  if (VALID_NAMES.has(name)) return true;
  // Old-package rules allow '*', but a name with one is always a mistaken wildcard here. Only
  // printable ASCII can be URL-safe; anything else (a lone surrogate makes the validator's
  // encodeURIComponent throw) is refused before it.
  if (name.includes('*') || !/^[\x21-\x7e]+$/.test(name)) return false;
  const valid = validateName(name).validForOldPackages;
  if (valid) {
    if (VALID_NAMES.size >= VALID_NAMES_MAX) VALID_NAMES.clear();
    VALID_NAMES.add(name);
  }
  return valid;
}

export function assertPackageName(name: unknown): string {
  if (typeof name !== 'string' || !isValidPackageName(name)) {
    throw new GatekeeperError('EINVALIDNAME', `${shown(name)} is not a valid npm package name. Use a name npm accepts, such as lodash or @scope/name`);
  }
  return name;
}

/**
 * A value from a request as a message shows it: quoted, printable, at most 60 characters (a
 * message must not echo a megabyte of input, nor carry what a terminal would act on).
 */
export function shown(value: unknown): string {
  return `'${shownValue(value, 60)}'`;
}

/**
 * Names a dist-tag may not have: every JavaScript object has them (`__proto__`, `constructor`,
 * `toString`, `hasOwnProperty`...), so a `dist-tags` object loses or misreads them (Verdaccio
 * drops `__proto__` silently; a client looking a tag up finds Object.prototype's member).
 */
const OBJECT_MEMBER_NAMES: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype', ...Object.getOwnPropertyNames(Object.prototype)]);

/** Whether `tag` names a member every JavaScript object has (see OBJECT_MEMBER_NAMES). */
export function isObjectMemberName(tag: string): boolean {
  return OBJECT_MEMBER_NAMES.has(tag);
}

/**
 * A dist-tag name as npm allows it: 1 to 128 URL-safe characters (what encodeURIComponent
 * leaves alone), and not a semver range, since `npm install name@<tag>` would read it as one
 * (`1.2.3`, `x`, `^1`); nor a name every JavaScript object has (`__proto__`, `constructor`).
 */
export function isValidDistTag(tag: unknown): tag is string {
  return typeof tag === 'string' && tag.length > 0 && tag.length <= 128 && /^[A-Za-z0-9._~!*'()-]+$/.test(tag) && semver.validRange(tag) === null && !isObjectMemberName(tag);
}

export function assertDistTag(tag: unknown): string {
  if (typeof tag === 'string' && isObjectMemberName(tag)) {
    throw new GatekeeperError('EINVALIDTAG', `${shown(tag)} is not a dist-tag name: every JavaScript object has a member of that name, so registries and clients lose or misread such a tag. Pick another name, such as next or beta`);
  }
  if (!isValidDistTag(tag)) {
    throw new GatekeeperError('EINVALIDTAG', `${shown(tag)} is not a dist-tag name: use 1 to 128 letters, digits or . _ ~ - (such as next or beta), and nothing npm would read as a version range`);
  }
  return tag;
}

export function isScopeWildcard(pattern: string): boolean {
  return /^@[a-z0-9][a-z0-9._~-]*\/\*$/.test(pattern);
}

/** A package pattern is a package name or a scope wildcard such as `@acme/*`. */
export function assertPackagePattern(pattern: unknown): string {
  if (typeof pattern === 'string' && (isScopeWildcard(pattern) || isValidPackageName(pattern))) return pattern;
  throw new GatekeeperError('EINVALIDNAME', `${shown(pattern)} is neither a valid npm package name nor a scope wildcard. Use a name such as lodash, or a scope wildcard such as @acme/*`);
}

export function scopeOf(name: string): string | undefined {
  return name.startsWith('@') ? name.slice(0, name.indexOf('/')) : undefined;
}

/**
 * A version as a request names it: strict semver, or a legacy version key such as
 * `1.0.0beta` (see versions.ts). For explain, checks and lookups; publishing needs
 * `assertSemverVersion`.
 */
export function assertVersion(version: unknown): string {
  if (!isNamedVersion(version)) {
    if (version === undefined || version === null) throw new GatekeeperError('EINVALIDVERSION', 'no version was given. Give a version like 1.2.3');
    const build = withoutBuild(version);
    if (build) throw new GatekeeperError('EINVALIDVERSION', `${buildMetadata(build)}. Give ${build.version}`);
    throw new GatekeeperError('EINVALIDVERSION', `${shown(version)} is not a valid semver version (nor a legacy version such as 1.0.0beta). Give a version like 1.2.3`);
  }
  return version;
}

/** A strict semver version (what may be published). */
export function assertSemverVersion(version: unknown): string {
  if (!isSemverVersion(version)) {
    const build = withoutBuild(version);
    if (build) throw new GatekeeperError('EINVALIDVERSION', `${buildMetadata(build)}. Publish it as ${build.version} ("version": "${build.version}" in package.json)`);
    throw new GatekeeperError('EINVALIDVERSION', `${shown(version)} is not a valid semver version. Give a version like 1.2.3`);
  }
  return version;
}

/**
 * A valid semver version but for its build metadata (`1.0.0+build2`): the version without it.
 * Semver ignores build metadata (1.0.0+a and 1.0.0+b are the same version; npm's semver
 * parses both as 1.0.0, and npm publish sends 1.0.0), so a registry takes none.
 */
function withoutBuild(version: unknown): { given: string; version: string; build: string } | undefined {
  if (typeof version !== 'string' || version.length > MAX_VERSION_LENGTH) return undefined;
  const plus = version.indexOf('+');
  if (plus <= 0) return undefined;
  const bare = version.slice(0, plus);
  if (!isSemverVersion(bare) || semver.valid(version) !== bare) return undefined;
  return { given: version, version: bare, build: version.slice(plus) };
}

function buildMetadata(b: { given: string; version: string; build: string }): string {
  return `${shown(b.given)} carries build metadata (${shown(b.build)}), which is no part of a version on a registry: semver ignores it, and npm publish cleans it off (publishing ${b.version})`;
}

/**
 * A semver range, or a legacy version key (`1.0.0beta`), which then matches exactly that
 * version: semver ranges never match legacy keys.
 */
export function assertRange(range: unknown): string {
  if (range === undefined || range === null || range === '') return '*';
  if (typeof range === 'string' && isLegacyVersion(range)) return range;
  // Semver reads white space alone as '*', which would then be stored as '' (a second
  // approval or ban for every version, under another key).
  if (typeof range === 'string' && range.length <= MAX_VERSION_LENGTH && range.trim() === '') {
    throw new GatekeeperError('EINVALIDRANGE', "the range is blank (white space only). Give '*' for every version (or leave the range out where it defaults to '*'), or a range like ^1.2.0");
  }
  if (typeof range !== 'string' || range.length > MAX_VERSION_LENGTH || semver.validRange(range) === null) {
    throw new GatekeeperError('EINVALIDRANGE', `'${String(range)}' is not a valid semver range (nor an exact legacy version such as 1.0.0beta). Give a range like ^1.2.0 or 1.2.3`);
  }
  return range.trim();
}

/**
 * Splits `name@range`, `@scope/name@range`, `name` or `@scope/*` into its parts.
 * The range defaults to `*`; a legacy version (`express@1.0.0beta`) is an exact range.
 */
export function parseSpec(spec: string): { name: string; range: string } {
  if (typeof spec !== 'string' || spec.length === 0) {
    throw new GatekeeperError('EVALIDATION', 'a package spec like name@range is required. Give one, e.g. lodash@^4.17.0');
  }
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  const name = at === -1 ? spec : spec.slice(0, at);
  const range = at === -1 ? '*' : spec.slice(at + 1);
  return { name: assertPackagePattern(name), range: assertRange(range) };
}

/** `name@version` with a valid version, strict or legacy (for explain, tarball checks). */
export function parseExactSpec(spec: string): { name: string; version: string } {
  const { name, range } = parseSpec(spec);
  return { name: assertPackageName(name), version: assertVersion(range) };
}

/** Decodes a package name from a URL path segment: `@scope%2fname`, `@scope%2Fname`, `@scope/name`. */
export function decodePackageName(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new GatekeeperError('EINVALIDNAME', `'${raw}' is not a valid package name. Check the name (lower case, at most 214 characters, an optional @scope/)`);
  }
  return assertPackageName(decoded);
}

/** The package name without its scope: what its tarballs' file names start with. */
function tarballBase(name: string): string {
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
}

/** The file name of a version's tarball: `<basename>-<version>.tgz` (see versionFromTarball). */
export function tarballFilename(name: string, version: string): string {
  return `${tarballBase(name)}-${version}.tgz`;
}

/**
 * The version a tarball file name denotes: `<basename>-<version>.tgz`, where basename is
 * the package name without its scope; strict semver or a legacy version (`express-1.0.0beta.tgz`). Returns undefined when the file name does not
 * belong to the package.
 */
export function versionFromTarball(name: string, filename: string): string | undefined {
  const prefix = `${tarballBase(name)}-`;
  if (!filename.startsWith(prefix) || !filename.endsWith('.tgz')) return undefined;
  const version = filename.slice(prefix.length, -'.tgz'.length);
  return isNamedVersion(version) ? version : undefined;
}

/** A username of ours (local, IdP-mapped or service account): letters, digits, '.', '_' and '-', at most 64, not starting with a symbol. */
export function isUsername(value: unknown): value is string {
  return typeof value === 'string' && /^[a-z0-9][a-z0-9._-]{0,63}$/i.test(value);
}
