/**
 * Compares the manifest a packument (or a publish body) declares for a version with the
 * package.json inside its tarball. Clients decide from the packument but run what the
 * tarball's package.json says after extraction (its install scripts, its binding.gyp, its
 * bins), so a difference in name, version or install scripts is what the manifest rule acts on;
 * license, dependency and bin differences are listed for people to see (a publish refuses them
 * all: see PUBLISH_FIELDS in server/registry/publish.ts). Both sides are normalised as npm
 * normalises a manifest it publishes (a string `bin`, `./` in bin paths, `bundledDependencies`),
 * so a client that sends the normalised manifest beside the raw package.json agrees with it.
 */
import { posix } from 'node:path';
import semver from 'semver';
import type { ManifestMismatch, TarballInspection } from './inspection';
import { describeLicense, parseLicense } from './license';
import { sanitizeText, shownValue, storable } from './text';

export interface ReadTarball {
  manifest: Record<string, unknown>;
  hasBindingGyp: boolean;
}

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;
/** What npm runs for a package with a binding.gyp and no install or preinstall script of its own. */
export const NODE_GYP_INSTALL = 'node-gyp rebuild';
/** Display strings are cut to this many characters. */
const DISPLAY_CHARS = 120;
/** Dependency differences listed at most (the rest are counted). */
const DISPLAY_ENTRIES = 10;
/** The sanitised manifest keeps this many levels of nesting (deeper values become null). */
const MAX_DEPTH = 64;

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Printable, single line, short: package text is hostile. */
export function displayString(text: string): string {
  // eslint-disable-next-line no-control-regex
  const clean = storable(text).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim();
  // Cut with a trailing `…`, never between the halves of a surrogate pair.
  return sanitizeText(clean, DISPLAY_CHARS);
}

function display(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return displayString(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  let json: string;
  try {
    json = JSON.stringify(value) ?? String(value);
  } catch {
    json = Object.prototype.toString.call(value);
  }
  return displayString(json);
}

function displayMap(map: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(map)) define(out, displayString(key), display(value));
  return out;
}

/**
 * Two script maps for display, where two different scripts never look the same: scripts that
 * differ only past DISPLAY_CHARS (a long script with a command appended) are each shown from a
 * little before where they part, after a leading `...`.
 */
function displayScripts(declared: Record<string, string>, actual: Record<string, string>): [Record<string, unknown>, Record<string, unknown>] {
  const shownDeclared = displayMap(declared);
  const shownActual = displayMap(actual);
  for (const name of INSTALL_SCRIPTS) {
    const was = declared[name];
    const is = actual[name];
    if (was === undefined || is === undefined || was === is || shownDeclared[name] !== shownActual[name]) continue;
    let at = 0;
    while (at < was.length && at < is.length && was[at] === is[at]) at++;
    let from = Math.max(0, at - 40);
    // Never start on the low half of a surrogate pair.
    if (from > 0 && /[\uDC00-\uDFFF]/.test(was[from])) from--;
    if (from === 0) continue;
    define(shownDeclared, name, displayString(`...${was.slice(from)}`));
    define(shownActual, name, displayString(`...${is.slice(from)}`));
  }
  return [shownDeclared, shownActual];
}

/** Quoted in a brief: printable ASCII, at most 40 characters. */
function briefValue(value: unknown): string {
  return value === undefined || value === null ? 'none' : `'${shownValue(value, 40)}'`;
}

/**
 * One mismatch in a few words, naming what differs but quoting no long value: `postinstall
 * script changed`, `preinstall script added`, `dependencies.left-pad removed`, `name is 'evil'`
 * (the declared name and version are the package@version a message names anyway), `license is
 * 'GPL-3.0', not 'MIT'`. Added, removed and changed say what the tarball's package.json has
 * against the declared manifest. For a status text, which cannot hold the quoted scripts.
 */
export function mismatchInBrief(m: ManifestMismatch): string {
  const field = shownValue(m.field, 40);
  if (m.field === 'name' || m.field === 'version') return `${field} is ${briefValue(m.actual)}`;
  // A map on one side and nothing on the other (no scripts at all) is an empty map.
  const map = (v: unknown, other: unknown) => (isObject(v) ? v : (v === undefined || v === null) && isObject(other) ? {} : undefined);
  const declared = map(m.declared, m.actual);
  const actual = map(m.actual, m.declared);
  if (!declared || !actual) return `${field} is ${briefValue(m.actual)}, not ${briefValue(m.declared)}`;
  if (m.field === 'installScripts') {
    if (typeof declared.hasInstallScript === 'boolean' && Object.keys(declared).length === 1) {
      // An abbreviated manifest says only whether there are install scripts.
      const names = Object.keys(actual);
      return names.length > 0 ? listed(names.map((n) => `${shownValue(n, 40)} script added`)) : 'install scripts removed';
    }
    return changes(declared, actual, (k) => `${k} script`, INSTALL_SCRIPTS) ?? `${listed(Object.keys({ ...declared, ...actual }).map((k) => shownValue(k, 40)), ' or ')} script changed`;
  }
  return changes(declared, actual, (k) => (m.field === 'bin' ? `bin ${k}` : k)) ?? `${field} changed`;
}

/** What differs between two display maps, key by key (in `order` when given); undefined when their displays agree. */
function changes(declared: Record<string, unknown>, actual: Record<string, unknown>, label: (key: string) => string, order?: readonly string[]): string | undefined {
  const absent = (v: unknown) => v === undefined || v === null;
  const keys = [...new Set([...Object.keys(declared), ...Object.keys(actual)])].filter((k) => k !== '…');
  const rank = (k: string) => (order && order.includes(k) ? order.indexOf(k) : Infinity);
  if (order) keys.sort((a, b) => rank(a) - rank(b));
  const items = keys.flatMap((k) => {
    const was = Object.hasOwn(declared, k) ? declared[k] : undefined;
    const is = Object.hasOwn(actual, k) ? actual[k] : undefined;
    if (was === is || (absent(was) && absent(is))) return [];
    return [`${label(shownValue(k, 40))} ${absent(was) ? 'added' : absent(is) ? 'removed' : 'changed'}`];
  });
  if (items.length === 0) return undefined;
  // The display lists 10 differences at most; its `…` entry counts the rest ("4 more differences").
  const marker = Object.hasOwn(actual, '…') ? actual['…'] : Object.hasOwn(declared, '…') ? declared['…'] : undefined;
  const uncounted = marker === undefined ? 0 : Number(/^(\d+) more/.exec(String(marker))?.[1] ?? NaN);
  const more = items.length - 3 + (Number.isNaN(uncounted) ? 0 : uncounted);
  return `${listed(items.slice(0, 3))}${more > 0 ? ` and ${more} more` : Number.isNaN(uncounted) ? ' and more' : ''}`;
}

function listed(items: string[], last = ', '): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')}${last}${items[items.length - 1]}`;
}

/** Sets a key without ever touching a prototype (`__proto__` is data here). */
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A copy that PostgreSQL's jsonb and the logs can hold: no NUL characters or lone UTF-16
 * surrogates in strings or keys (either fails the whole insert),
 * nesting cut at MAX_DEPTH, `__proto__` kept as a plain key.
 */
export function sanitizeManifest(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return storable(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'number' || typeof value === 'boolean' ? value : value === undefined ? undefined : null;
  }
  if (depth >= MAX_DEPTH) return null;
  if (Array.isArray(value)) return value.map((v) => sanitizeManifest(v, depth + 1) ?? null);
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value as Record<string, unknown>);
  // A key that had to be cleaned never replaces one that did not (`license\ud800` is not `license`).
  for (const cleaned of [false, true]) {
    for (const [key, v] of entries) {
      const storableKey = storable(key);
      if ((storableKey !== key) !== cleaned || (cleaned && Object.hasOwn(out, storableKey))) continue;
      const clean = sanitizeManifest(v, depth + 1);
      if (clean !== undefined) define(out, storableKey, clean);
    }
  }
  return out;
}

function sameName(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a.trim() === b.trim();
  return a === b;
}

/** Versions compare as npm normalises them at publish (`v1.0.0`, `=1.0.0` and `1.0.0` are one). */
function sameVersion(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') {
    const ca = semver.clean(a);
    const cb = semver.clean(b);
    if (ca !== null && cb !== null) return ca === cb;
    return a === b;
  }
  return a === b;
}

/**
 * The install-time scripts npm runs for a manifest: non-empty preinstall, install and
 * postinstall, plus `node-gyp rebuild` as install when there is a binding.gyp (or, declared,
 * `gypfile: true`), no install or preinstall script and `gypfile` is not false.
 */
export function effectiveInstallScripts(manifest: Record<string, unknown>, hasBindingGyp: boolean): Record<string, string> {
  const scripts = isObject(manifest.scripts) ? manifest.scripts : {};
  const out: Record<string, string> = {};
  for (const name of INSTALL_SCRIPTS) {
    const script = scripts[name];
    if (typeof script === 'string' && script.trim() !== '') out[name] = script;
  }
  const gyp = (hasBindingGyp || manifest.gypfile === true) && manifest.gypfile !== false;
  if (gyp && out.install === undefined && out.preinstall === undefined) out.install = NODE_GYP_INSTALL;
  return out;
}

function sameScripts(a: Record<string, string>, b: Record<string, string>): boolean {
  return INSTALL_SCRIPTS.every((s) => a[s] === b[s]);
}

type DependencyKind = 'dependencies' | 'optionalDependencies' | 'peerDependencies' | 'bundleDependencies';
const DEPENDENCY_KINDS: readonly DependencyKind[] = ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies'];

/**
 * The names npm bundles: `bundleDependencies`, else `bundledDependencies` (npm publishes the
 * first spelling); `true` bundles every dependency; anything but a list of names bundles none.
 */
export function bundledNames(manifest: Record<string, unknown>): string[] {
  const value = manifest.bundleDependencies !== undefined ? manifest.bundleDependencies : manifest.bundledDependencies;
  if (value === true) return Object.keys(depMap(manifest, 'dependencies')).sort();
  if (!Array.isArray(value)) return [];
  return [...new Set(value.filter((n): n is string => typeof n === 'string'))].sort();
}

/**
 * The bins npm links for a manifest, as npm's normalize-package-bin makes them (what npm, and
 * pnpm, yarn and bun after it, act on): a string is the package's own bin under the name's
 * last part; an array names its files; each key is cut to its base name and each path made
 * relative and free of `..`, `./` and backslashes; entries that end up empty are dropped.
 */
export function normalizedBins(manifest: Record<string, unknown>): Record<string, string> {
  let bin = manifest.bin;
  if (typeof bin === 'string') bin = typeof manifest.name === 'string' && manifest.name ? { [manifest.name]: bin } : undefined;
  else if (Array.isArray(bin)) bin = Object.fromEntries(bin.filter((k): k is string => typeof k === 'string').map((k) => [posix.basename(k), k]));
  const out: Record<string, string> = {};
  if (!isObject(bin)) return out;
  for (const [key, target] of Object.entries(bin)) {
    const base = posix.join('/', posix.basename(key.replace(/\\|:/g, '/'))).slice(1);
    if (typeof target !== 'string' || !base) continue;
    const path = posix.join('/', target.replace(/\\/g, '/')).slice(1);
    if (path) define(out, base, path);
  }
  return out;
}

/**
 * A publish's declared bins against its tarball's. A tarball without `bin` but with
 * `directories.bin` gets its bins from that folder's files (npm expands it when it publishes,
 * from a listing this reader does not keep): each declared bin must then be a file of that
 * folder, under its own base name.
 */
function binMismatch(declared: Record<string, unknown>, actual: Record<string, unknown>): ManifestMismatch | undefined {
  const a = normalizedBins(declared);
  const directories = isObject(actual.directories) ? actual.directories : {};
  if (actual.bin === undefined && typeof directories.bin === 'string') {
    const dir = posix.join('/', directories.bin.replace(/\\/g, '/')).slice(1).replace(/\/$/, '');
    const outside = Object.entries(a).filter(([key, path]) => !dir || !path.startsWith(`${dir}/`) || posix.basename(path) !== key);
    if (outside.length === 0) return undefined;
    return { field: 'bin', declared: displayMap(Object.fromEntries(outside)), actual: { 'directories.bin': displayString(directories.bin) } };
  }
  const b = normalizedBins(actual);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const differing = keys.filter((k) => a[k] !== b[k]);
  if (differing.length === 0) return undefined;
  const pick = (bins: Record<string, string>) => {
    const out: Record<string, unknown> = {};
    for (const k of differing.slice(0, DISPLAY_ENTRIES)) define(out, displayString(k), bins[k] === undefined ? null : displayString(bins[k]));
    if (differing.length > DISPLAY_ENTRIES) define(out, '…', `${differing.length - DISPLAY_ENTRIES} more differences`);
    return out;
  };
  return { field: 'bin', declared: pick(a), actual: pick(b) };
}

function depMap(manifest: Record<string, unknown>, field: Exclude<DependencyKind, 'bundleDependencies'>): Record<string, unknown> {
  return isObject(manifest[field]) ? manifest[field] : {};
}

/**
 * Dependencies by kind, normalised the way npm publishes them: optional dependencies are also
 * listed under `dependencies` in a packument, so `dependencies` here holds the required ones
 * only.
 */
function dependencyKinds(manifest: Record<string, unknown>): Record<DependencyKind, Map<string, string>> {
  const optional = depMap(manifest, 'optionalDependencies');
  const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v) ?? String(v));
  const required = new Map<string, string>();
  for (const [name, range] of Object.entries(depMap(manifest, 'dependencies'))) {
    if (!Object.prototype.hasOwnProperty.call(optional, name)) required.set(name, text(range));
  }
  return {
    dependencies: required,
    optionalDependencies: new Map(Object.entries(optional).map(([n, r]) => [n, text(r)])),
    peerDependencies: new Map(Object.entries(depMap(manifest, 'peerDependencies')).map(([n, r]) => [n, text(r)])),
    bundleDependencies: new Map(bundledNames(manifest).map((n) => [n, 'bundled'])),
  };
}

function dependencyMismatch(declared: Record<string, unknown>, actual: Record<string, unknown>): ManifestMismatch | undefined {
  const a = dependencyKinds(declared);
  const b = dependencyKinds(actual);
  const declaredOut: Record<string, unknown> = {};
  const actualOut: Record<string, unknown> = {};
  let differences = 0;
  for (const kind of DEPENDENCY_KINDS) {
    const names = [...new Set([...a[kind].keys(), ...b[kind].keys()])].sort();
    for (const name of names) {
      const was = a[kind].get(name);
      const is = b[kind].get(name);
      if (was === is) continue;
      differences += 1;
      if (differences > DISPLAY_ENTRIES) continue;
      const key = displayString(`${kind}.${name}`);
      define(declaredOut, key, was === undefined ? null : displayString(was));
      define(actualOut, key, is === undefined ? null : displayString(is));
    }
  }
  if (differences === 0) return undefined;
  if (differences > DISPLAY_ENTRIES) {
    const more = `${differences - DISPLAY_ENTRIES} more differences`;
    define(declaredOut, '…', more);
    define(actualOut, '…', more);
  }
  return { field: 'dependencies', declared: declaredOut, actual: actualOut };
}

/**
 * What the tarball's package.json says compared with the declared manifest. `name` and
 * `version` are the declared identity (what the inspection is stored under), falling back to
 * the tarball's when the declared manifest has none. Mismatch values are short, printable
 * display values; the manifest is sanitised for storage.
 */
export function inspectTarball(
  declared: Record<string, unknown>,
  read: ReadTarball,
  integrity: string,
  now: Date,
): TarballInspection {
  const actual = isObject(read.manifest) ? read.manifest : {};
  const decl = isObject(declared) ? declared : {};
  const mismatches: ManifestMismatch[] = [];

  if (!sameName(decl.name, actual.name)) mismatches.push({ field: 'name', declared: display(decl.name), actual: display(actual.name) });
  if (!sameVersion(decl.version, actual.version)) {
    mismatches.push({ field: 'version', declared: display(decl.version), actual: display(actual.version) });
  }

  const actualScripts = effectiveInstallScripts(actual, read.hasBindingGyp);
  if (!isObject(decl.scripts) && typeof decl.hasInstallScript === 'boolean' && decl.gypfile === undefined) {
    // An abbreviated manifest says only whether there are install scripts.
    const runs = Object.keys(actualScripts).length > 0;
    if (runs !== decl.hasInstallScript) {
      mismatches.push({ field: 'installScripts', declared: { hasInstallScript: decl.hasInstallScript }, actual: displayMap(actualScripts) });
    }
  } else {
    const declaredScripts = effectiveInstallScripts(decl, false);
    if (!sameScripts(declaredScripts, actualScripts)) {
      const [declaredShown, actualShown] = displayScripts(declaredScripts, actualScripts);
      mismatches.push({ field: 'installScripts', declared: declaredShown, actual: actualShown });
    }
  }

  const declaredLicense = describeLicense(parseLicense(decl));
  const actualLicense = describeLicense(parseLicense(actual));
  if (declaredLicense !== actualLicense) {
    mismatches.push({ field: 'license', declared: displayString(declaredLicense), actual: displayString(actualLicense) });
  }

  const deps = dependencyMismatch(decl, actual);
  if (deps) mismatches.push(deps);
  const bins = binMismatch(decl, actual);
  if (bins) mismatches.push(bins);

  const identity = (field: 'name' | 'version'): string => {
    const value = typeof decl[field] === 'string' ? decl[field] : typeof actual[field] === 'string' ? actual[field] : '';
    return storable(value as string);
  };

  return {
    name: identity('name'),
    version: identity('version'),
    manifest: sanitizeManifest(actual) as Record<string, unknown>,
    hasBindingGyp: read.hasBindingGyp,
    mismatches,
    integrity,
    inspectedAt: now,
  };
}
