import yaml from 'js-yaml';
import { validation } from './errors';
import { isValidPackageName, versionFromTarball } from './names';
import { compareVersions, isNamedVersion } from './versions';

/**
 * Lockfile parsing for `gatekeeper check`, the license report and request batches:
 * which registry packages (name@version) a project's lockfile pins. Pure: text in,
 * entries out; every problem with the input is an EVALIDATION error.
 *
 * Formats and the tools that write them:
 * - `npm-v1`: package-lock.json / npm-shrinkwrap.json lockfileVersion 1 (npm 5-6, or
 *   npm 7+ with --lockfile-version 1): a nested `dependencies` tree.
 * - `npm-v2`: lockfileVersion 2 (npm 7-8): `packages` and `dependencies`; `packages` is read.
 * - `npm-v3`: lockfileVersion 3 (npm 9+): `packages` only.
 * - `pnpm-v5`: pnpm-lock.yaml lockfileVersion 5.x (pnpm 5-7): keys `/name/1.0.0`,
 *   `/@scope/name/1.0.0_peer@2.0.0` or `/name/1.0.0_<hash>`.
 * - `pnpm-v6`: lockfileVersion '6.x' (pnpm 8): keys `/name@1.0.0(peer@2.0.0)`.
 * - `pnpm-v9`: lockfileVersion '9.0' (pnpm 9, 10): `packages` keyed `name@1.0.0` plus
 *   `snapshots` keyed `name@1.0.0(peer@2.0.0)`. (No released pnpm writes 7.x or 8.x; such
 *   files are read as pnpm-v9 when they have `snapshots`, else as pnpm-v6.)
 * - `yarn-classic`: yarn.lock of yarn 1 ("# yarn lockfile v1"), its own text format.
 * - `yarn-berry`: yarn.lock of yarn 2+ (YAML with `__metadata`).
 * - `bun`: bun.lock of bun 1.2+ (JSON with trailing commas, `lockfileVersion` 0 to 2):
 *   `packages` keyed by install path, each `[ "name@version", "<registry or tarball>", {…}, "<integrity>" ]`;
 *   workspace, link, file, git and tarball packages have other identifiers. bun.lockb (binary) is not read.
 *
 * What becomes an entry: every package fetched from a registry, once per name@version
 * (aliases resolve to the real package name). What does not:
 * - the root project, workspace packages, `link:`/`file:`/`portal:` packages (local
 *   sources, not fetched from any registry) and yarn `patch:` entries (the patched
 *   registry package is listed by yarn on its own): silently left out;
 * - git dependencies, tarball URLs, bundled dependencies (they come inside their parent's
 *   tarball) and sources this parser does not know: listed in `skipped` with a reason.
 *
 * A tarball counts as coming from a registry when its URL has the registry layout
 * `.../<name>/-/<file>.tgz` (or when the lockfile records no URL, as npm does with
 * `omit-lockfile-registry-resolved`); any other URL is a `url` source. Where such a URL names
 * a package and version (`<name>/-/<name>-<version>.tgz`), they are the entry's, whatever name
 * and version the lockfile gives beside it: the client fetches the URL.
 *
 * Flags: `dev: true` marks a package needed only by devDependencies, `optional: true` one
 * needed only through optionalDependencies; both are left out otherwise. npm and pnpm
 * 5/6 record them; for pnpm 9 `dev` is computed from the importers and snapshots (pnpm 9
 * no longer writes it) and `optional` is read from the snapshots. npm's `devOptional`
 * (dev, or optional in production) sets neither flag: such a package can still be a hard
 * requirement of an install. yarn lockfiles do not say which dependencies are dev or
 * optional, so yarn entries never carry flags.
 */

export type LockfileFormat =
  | 'npm-v1'
  | 'npm-v2'
  | 'npm-v3'
  | 'pnpm-v5'
  | 'pnpm-v6'
  | 'pnpm-v9'
  | 'yarn-classic'
  | 'yarn-berry'
  | 'bun';

export interface LockfileEntry {
  name: string;
  version: string;
  /** SRI string (`sha512-...`, old files may have `sha1-...`) where the tool records one. yarn berry's `checksum` is not an SRI and is never used. */
  integrity?: string;
  /** Tarball URL where the tool records one (yarn classic's `#sha1` suffix removed). */
  resolved?: string;
  dev?: boolean;
  optional?: boolean;
}

export type SkipReason = 'git' | 'url' | 'bundled' | 'other';

/** A dependency that is not fetched from a registry, so the gatekeeper cannot vouch for it. */
export interface SkippedEntry {
  name: string;
  reason: SkipReason;
  /** The git URL, tarball URL or spec the lockfile records, when it records one. */
  source?: string;
}

export interface ParsedLockfile {
  format: LockfileFormat;
  /** Unique by name@version, sorted by name, then by version (semver order; legacy keys as versions.ts orders them). */
  entries: LockfileEntry[];
  /** The project itself, where the lockfile names it (npm; yarn berry: name only). */
  root?: { name?: string; version?: string };
  /** Always set by parseLockfile (possibly empty), unique, sorted by name, reason, source. */
  skipped?: SkippedEntry[];
}

/** The file names `gatekeeper check` looks for in a directory, in priority order (npm-shrinkwrap.json wins over package-lock.json, as in npm). */
export const LOCKFILE_NAMES: readonly string[] = Object.freeze([
  'npm-shrinkwrap.json',
  'package-lock.json',
  'pnpm-lock.yaml',
  'yarn.lock',
  'bun.lock',
]);

type Obj = Record<string, unknown>;

interface Loaded {
  format: LockfileFormat;
  label: string;
  data: unknown;
}

export function detectLockfileFormat(filename: string, text: string): LockfileFormat {
  return load(filename, text).format;
}

export function parseLockfile(filename: string, text: string): ParsedLockfile {
  const loaded = load(filename, text);
  const out = new Collector(loaded.label);
  let root: ParsedLockfile['root'];
  switch (loaded.format) {
    case 'npm-v1':
    case 'npm-v2':
    case 'npm-v3':
      root = readNpm(loaded.data as Obj, out);
      break;
    case 'pnpm-v5':
    case 'pnpm-v6':
      readPnpmLegacy(loaded.data as Obj, loaded.format, out);
      break;
    case 'pnpm-v9':
      readPnpm9(loaded.data as Obj, out);
      break;
    case 'yarn-classic':
      readYarnClassic(loaded.data as YarnBlock[], out);
      break;
    case 'yarn-berry':
      root = readYarnBerry(loaded.data as Obj, out);
      break;
    case 'bun':
      root = readBun(loaded.data as Obj, out);
      break;
  }
  const result: ParsedLockfile = { format: loaded.format, entries: out.entries() };
  if (root) result.root = root;
  result.skipped = out.skippedEntries();
  return result;
}

// ---------------------------------------------------------------------------
// Loading and detection

function baseName(filename: string): string {
  const parts = String(filename ?? '').split(/[\\/]/);
  return parts[parts.length - 1] ?? '';
}

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function load(filename: string, text: string): Loaded {
  if (typeof text !== 'string') throw validation('the lockfile content must be text');
  const base = baseName(filename);
  const label = base || 'lockfile';
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  switch (base) {
    case 'package-lock.json':
    case 'npm-shrinkwrap.json':
      return loadNpm(label, body);
    case 'pnpm-lock.yaml':
      return loadPnpm(label, body);
    case 'yarn.lock':
      return loadYarn(label, body);
    case 'bun.lock':
      return loadBun(label, body);
    default:
      return loadByContent(label, body);
  }
}

function loadByContent(label: string, text: string): Loaded {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
    if (isObj(data) && ('lockfileVersion' in data || 'packages' in data || 'dependencies' in data) && !('workspaces' in data && !('name' in data))) {
      return npmFormat(label, data);
    }
    if (/^\s*\{\s*"lockfileVersion"\s*:\s*\d+\s*,\s*("configVersion"\s*:\s*\d+\s*,\s*)?"workspaces"/.test(text)) return loadBun(label, text);
  }
  if (/^# yarn lockfile v1\s*$/m.test(text)) return loadYarn(label, text);
  if (/^"?__metadata"?:/m.test(text)) return loadYarn(label, text);
  if (/^lockfileVersion:/m.test(text)) return loadPnpm(label, text);
  throw validation(
    `cannot tell which lockfile format ${label} is: expected ${LOCKFILE_NAMES.join(', ')} (npm, pnpm, yarn or bun)`,
    { file: label },
  );
}

function loadNpm(label: string, text: string): Loaded {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw validation(`${label} is not valid JSON: ${(err as Error).message}`, { file: label });
  }
  if (!isObj(data)) throw validation(`${label} must hold a JSON object`, { file: label });
  return npmFormat(label, data);
}

function npmFormat(label: string, data: Obj): Loaded {
  const version = data.lockfileVersion;
  const hasPackages = isObj(data.packages);
  const hasDependencies = isObj(data.dependencies);
  if (version === undefined) {
    // npm-shrinkwrap.json files older than npm 5 carry no lockfileVersion.
    if (hasDependencies) return { format: 'npm-v1', label, data };
    throw validation(`${label} has neither "packages" nor "dependencies": it is not an npm lockfile`, { file: label });
  }
  if (version === 1) {
    if (data.dependencies !== undefined && !hasDependencies) {
      throw validation(`${label}: "dependencies" must be an object`, { file: label });
    }
    return { format: 'npm-v1', label, data };
  }
  if (version === 2 || version === 3) {
    if (!hasPackages && !(version === 2 && hasDependencies)) {
      throw validation(`${label} (lockfileVersion ${version}) has no "packages" object`, { file: label });
    }
    return { format: version === 2 ? 'npm-v2' : 'npm-v3', label, data };
  }
  throw validation(`${label} has lockfileVersion ${JSON.stringify(version)}; supported are 1, 2 and 3`, { file: label });
}

function loadYaml(label: string, text: string): unknown {
  let docs: unknown[];
  try {
    docs = yaml.loadAll(text, undefined, { schema: yaml.CORE_SCHEMA, filename: label });
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw validation(`${label} is not valid YAML: ${reason}`, { file: label });
  }
  // pnpm 10 can put an "env lockfile" document first; the main lockfile is the last one.
  const data = docs.length ? docs[docs.length - 1] : undefined;
  if (!isObj(data)) throw validation(`${label} must hold a YAML mapping`, { file: label });
  return data;
}

function loadPnpm(label: string, text: string): Loaded {
  const data = loadYaml(label, text) as Obj;
  const raw = data.lockfileVersion;
  if (raw === undefined) throw validation(`${label} has no lockfileVersion: it is not a pnpm lockfile`, { file: label });
  const major = Number.parseInt(String(raw), 10);
  if (data.packages !== undefined && data.packages !== null && !isObj(data.packages)) {
    throw validation(`${label}: "packages" must be a mapping`, { file: label });
  }
  if (major === 5) return { format: 'pnpm-v5', label, data };
  if (major === 6) return { format: 'pnpm-v6', label, data };
  if (major === 9) return { format: 'pnpm-v9', label, data };
  if (major === 7 || major === 8) return { format: isObj(data.snapshots) ? 'pnpm-v9' : 'pnpm-v6', label, data };
  throw validation(`${label} has lockfileVersion ${JSON.stringify(raw)}; supported are 5.x, 6.x and 9.x`, {
    file: label,
  });
}

function loadYarn(label: string, text: string): Loaded {
  if (/^"?__metadata"?:/m.test(text)) {
    const data = loadYaml(label, text) as Obj;
    if (!isObj(data.__metadata)) throw validation(`${label}: "__metadata" must be a mapping`, { file: label });
    return { format: 'yarn-berry', label, data };
  }
  return { format: 'yarn-classic', label, data: parseYarnClassicText(label, text) };
}

// ---------------------------------------------------------------------------
// Collecting entries

interface Draft {
  name: string;
  version: string;
  integrity?: string;
  resolved?: string;
  dev: boolean;
  optional: boolean;
}

class Collector {
  private readonly byKey = new Map<string, Draft>();
  private readonly skipped = new Map<string, SkippedEntry>();

  constructor(readonly label: string) {}

  add(given: Draft, where: string): void {
    // The client fetches the URL the lockfile records: the package that URL names is the one installed.
    const fetched = given.resolved ? packageOfTarballUrl(given.resolved) : undefined;
    const draft = fetched && (fetched.name !== given.name || fetched.version !== given.version) ? { ...given, ...fetched } : given;
    if (!isValidPackageName(draft.name)) {
      throw validation(`${this.label}: ${where}: '${draft.name}' is not a valid npm package name`, { file: this.label });
    }
    if (!isNamedVersion(draft.version)) {
      throw validation(`${this.label}: ${where}: '${draft.version}' is not a valid semver version`, {
        file: this.label,
      });
    }
    const key = `${draft.name}@${draft.version}`;
    const seen = this.byKey.get(key);
    if (!seen) {
      this.byKey.set(key, { ...draft });
      return;
    }
    // The same package reached in several places: it is dev-only (optional-only) only
    // when every copy is.
    seen.dev = seen.dev && draft.dev;
    seen.optional = seen.optional && draft.optional;
    seen.integrity ??= draft.integrity;
    seen.resolved ??= draft.resolved;
  }

  skip(name: string, reason: SkipReason, source?: string): void {
    const entry: SkippedEntry = { name, reason };
    if (source) entry.source = source;
    this.skipped.set(`${name}\0${reason}\0${source ?? ''}`, entry);
  }

  entries(): LockfileEntry[] {
    const list = [...this.byKey.values()].map((d) => {
      const entry: LockfileEntry = { name: d.name, version: d.version };
      if (d.integrity) entry.integrity = d.integrity;
      if (d.resolved) entry.resolved = d.resolved;
      if (d.dev) entry.dev = true;
      if (d.optional) entry.optional = true;
      return entry;
    });
    return list.sort((a, b) => compareStrings(a.name, b.name) || compareVersions(a.version, b.version));
  }

  skippedEntries(): SkippedEntry[] {
    return [...this.skipped.values()].sort(
      (a, b) =>
        compareStrings(a.name, b.name) || compareStrings(a.reason, b.reason) || compareStrings(a.source ?? '', b.source ?? ''),
    );
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `name@range` / `@scope/name@range` split at the `@` that ends the name. */
function splitAt(spec: string): { name: string; rest: string } | undefined {
  const at = spec.indexOf('@', spec.startsWith('@') ? 1 : 0);
  if (at <= 0) return undefined;
  return { name: spec.slice(0, at), rest: spec.slice(at + 1) };
}

type SourceKind = 'local' | 'git' | 'url' | 'other';

const LOCAL_PREFIX = /^(file|link|workspace|portal):/;
const GIT_PREFIX = /^(git\+|git:|git@|github:|gitlab:|bitbucket:|gist:|ssh:)/;
/** `owner/repo` and `owner/repo#ref`, the GitHub shorthand. */
const GIT_SHORTHAND = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+(#.*)?$/;

function isGitUrl(url: string): boolean {
  return /^https?:\/\/codeload\.github\.com\//.test(url) || /\.git(#|$)/.test(url) || /#commit=/.test(url);
}

/** Where a non-registry spec, version or URL points. */
function classifySource(spec: string): SourceKind {
  if (LOCAL_PREFIX.test(spec)) return 'local';
  if (GIT_PREFIX.test(spec)) return 'git';
  if (/^https?:\/\//i.test(spec)) return isGitUrl(spec) ? 'git' : 'url';
  if (GIT_SHORTHAND.test(spec)) return 'git';
  return 'other';
}

/** The decoded path of a tarball URL in the registry layout `<registry>/<name>/-/<file>.tgz`; undefined for any other URL. */
function registryTarballPath(url: string): string | undefined {
  const match = /^https?:\/\/[^/?#]+(\/[^?#]*)/i.exec(url);
  if (!match) return undefined;
  let path: string;
  try {
    path = decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
  return path.includes('/-/') && path.endsWith('.tgz') ? path : undefined;
}

/** A tarball URL in the registry layout `<registry>/<name>/-/<file>.tgz`. */
function isRegistryTarball(url: string): boolean {
  return registryTarballPath(url) !== undefined;
}

/**
 * The package and version a registry tarball URL names (`…/<name>/-/<name>-<version>.tgz`,
 * `…/@scope/name/-/[@scope/]name-<version>.tgz`, under any base path); undefined when it names
 * none readably.
 */
function packageOfTarballUrl(url: string): { name: string; version: string } | undefined {
  const path = registryTarballPath(url);
  if (path === undefined) return undefined;
  const at = path.lastIndexOf('/-/');
  const segments = path.slice(0, at).split('/').filter((segment) => segment !== '');
  const last = segments[segments.length - 1];
  const scope = segments[segments.length - 2];
  const name = scope?.startsWith('@') ? `${scope}/${last}` : last;
  if (!name || !isValidPackageName(name)) return undefined;
  const filename = path.slice(path.lastIndexOf('/') + 1);
  const version = versionFromTarball(name, filename);
  return version ? { name, version } : undefined;
}

/** Records a dependency that is not a registry package (or does nothing for local ones). */
function skipSource(out: Collector, name: string, kind: SourceKind, source: string | undefined): void {
  if (kind !== 'local') out.skip(name, kind, source);
}

// ---------------------------------------------------------------------------
// npm: package-lock.json and npm-shrinkwrap.json

function readNpm(data: Obj, out: Collector): ParsedLockfile['root'] {
  const packages = isObj(data.packages) ? data.packages : undefined;
  if (packages && data.lockfileVersion !== 1) readNpmPackages(packages, out);
  else if (isObj(data.dependencies)) readNpmDependencies(data.dependencies, out);

  const rootPkg = packages && isObj(packages['']) ? packages[''] : {};
  const root: NonNullable<ParsedLockfile['root']> = {};
  const name = str(data.name) ?? str(rootPkg.name);
  const version = str(data.version) ?? str(rootPkg.version);
  if (name) root.name = name;
  if (version) root.version = version;
  return name || version ? root : undefined;
}

const NODE_MODULES = 'node_modules/';

function readNpmPackages(packages: Obj, out: Collector): void {
  for (const [key, value] of Object.entries(packages)) {
    if (key === '') continue;
    const where = `packages[${JSON.stringify(key)}]`;
    if (!isObj(value)) throw validation(`${out.label}: ${where} must be an object`, { file: out.label });
    const at = key.lastIndexOf(NODE_MODULES);
    // Keys outside node_modules are workspace folders and file: dependency folders.
    if (at === -1 || (at > 0 && key[at - 1] !== '/')) continue;
    if (value.link === true) continue;
    const name = str(value.name) ?? key.slice(at + NODE_MODULES.length);
    if (value.inBundle === true) {
      out.skip(name, 'bundled');
      continue;
    }
    const version = str(value.version);
    const resolved = str(value.resolved);
    if (resolved && !isRegistryTarball(resolved)) {
      skipSource(out, name, classifySource(resolved), resolved);
      continue;
    }
    if (!version) throw validation(`${out.label}: ${where} has no version`, { file: out.label });
    out.add(
      {
        name,
        version,
        integrity: str(value.integrity),
        resolved,
        dev: value.dev === true,
        optional: value.optional === true,
      },
      where,
    );
  }
}

function readNpmDependencies(dependencies: Obj, out: Collector): void {
  // Iterative walk of the nested v1 tree (no recursion limit on deep trees).
  const stack: Array<{ deps: Obj; path: string }> = [{ deps: dependencies, path: 'dependencies' }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    for (const [key, value] of Object.entries(item.deps)) {
      const where = `${item.path}[${JSON.stringify(key)}]`;
      if (!isObj(value)) throw validation(`${out.label}: ${where} must be an object`, { file: out.label });
      if (isObj(value.dependencies)) stack.push({ deps: value.dependencies, path: `${where}.dependencies` });
      const version = str(value.version);
      if (!version) throw validation(`${out.label}: ${where} has no version`, { file: out.label });
      if (value.bundled === true) {
        out.skip(key, 'bundled');
        continue;
      }
      let name = key;
      let exact = version;
      if (version.startsWith('npm:')) {
        // Alias: "version": "npm:real-name@1.0.0".
        const real = splitAt(version.slice(4));
        if (!real) throw validation(`${out.label}: ${where} has an unreadable alias version '${version}'`, { file: out.label });
        name = real.name;
        exact = real.rest;
      } else if (!isNamedVersion(version)) {
        skipSource(out, key, classifySource(version), version);
        continue;
      }
      const resolved = str(value.resolved);
      if (resolved && !isRegistryTarball(resolved)) {
        skipSource(out, name, classifySource(resolved), resolved);
        continue;
      }
      out.add(
        {
          name,
          version: exact,
          integrity: str(value.integrity),
          resolved,
          dev: value.dev === true,
          optional: value.optional === true,
        },
        where,
      );
    }
  }
}

// ---------------------------------------------------------------------------
// pnpm: pnpm-lock.yaml

/** The `(peer@1.0.0)` suffixes pnpm 8+ appends to dependency paths. */
function stripParenSuffix(version: string): string {
  const paren = version.indexOf('(');
  return paren === -1 ? version : version.slice(0, paren);
}

/** `name/1.0.0`, `@scope/name/1.0.0_peer@1.0.0`, `name/1.0.0_hash` (lockfile v5). */
function parseV5Path(path: string): { name: string; version: string } | undefined {
  const parts = path.split('/');
  const scoped = parts[0]?.startsWith('@');
  const nameParts = scoped ? 2 : 1;
  if (parts.length < nameParts + 1) return undefined;
  const name = parts.slice(0, nameParts).join('/');
  // The version is the next segment, up to the peer suffix (`_...`; semver has no `_`).
  // Peer suffixes of v5 may themselves contain `/` (scoped peers), so only the start is read.
  const rest = parts.slice(nameParts).join('/');
  const underscore = rest.indexOf('_');
  const version = stripParenSuffix(underscore === -1 ? rest : rest.slice(0, underscore));
  return { name, version };
}

/** `name@1.0.0`, `@scope/name@1.0.0(peer@1.0.0)` (lockfile v6 without the leading `/`, and v9). */
function parseAtPath(path: string): { name: string; version: string } | undefined {
  const split = splitAt(path);
  if (!split) return undefined;
  return { name: split.name, version: split.rest };
}

function readPnpmLegacy(data: Obj, format: 'pnpm-v5' | 'pnpm-v6', out: Collector): void {
  const packages = isObj(data.packages) ? data.packages : {};
  const parsePath = format === 'pnpm-v5' ? parseV5Path : (p: string) => parseAtPath(p);
  for (const [key, value] of Object.entries(packages)) {
    const where = `packages[${JSON.stringify(key)}]`;
    if (!isObj(value)) throw validation(`${out.label}: ${where} must be a mapping`, { file: out.label });
    const resolution = isObj(value.resolution) ? value.resolution : {};
    const flags = { dev: value.dev === true, optional: value.optional === true };
    const integrity = str(resolution.integrity);
    const tarball = str(resolution.tarball);

    if (key.startsWith('/')) {
      const parsed = parsePath(key.slice(1));
      const version = parsed && stripParenSuffix(parsed.version);
      if (!parsed || !version || !isNamedVersion(version)) {
        throw validation(`${out.label}: cannot read the package key ${JSON.stringify(key)}`, { file: out.label });
      }
      out.add({ name: parsed.name, version, integrity, resolved: tarball, ...flags }, where);
      continue;
    }

    // Not registry-relative: git, tarball URL, local directory, or (old pnpm) a path
    // with the registry host in front: `registry.example.com/name/1.0.0`.
    const name = str(value.name) ?? key;
    if (str(resolution.directory) || LOCAL_PREFIX.test(key)) continue;
    if (resolution.type === 'git' || str(resolution.commit) || /^(github\.com|gitlab\.com|bitbucket\.org)\//.test(key)) {
      out.skip(name, 'git', str(resolution.repo) ?? tarball ?? key);
      continue;
    }
    if (tarball && isGitUrl(tarball)) {
      out.skip(name, 'git', tarball);
      continue;
    }
    const slash = key.indexOf('/');
    const host = slash > 0 ? key.slice(0, slash) : '';
    if (integrity && host.includes('.') && !host.startsWith('@') && (!tarball || isRegistryTarball(tarball))) {
      const parsed = parsePath(key.slice(slash + 1));
      const version = parsed && stripParenSuffix(parsed.version);
      if (parsed && version && isNamedVersion(version)) {
        out.add({ name: parsed.name, version, integrity, resolved: tarball, ...flags }, where);
        continue;
      }
    }
    if (tarball) out.skip(name, 'url', tarball);
    else out.skip(name, 'other', key);
  }
}

/**
 * The snapshot key a pnpm 9 dependency reference points at (pnpm's refToRelative):
 * `1.0.0(peer@1.0.0)` of `foo` is `foo@1.0.0(peer@1.0.0)`; an alias reference
 * `real@1.0.0` is itself; `link:` references point at no snapshot.
 */
function refToSnapshotKey(ref: string, name: string): string | undefined {
  if (ref.startsWith('link:')) return undefined;
  if (ref.startsWith('@')) return ref;
  const at = ref.indexOf('@');
  if (at === -1) return `${name}@${ref}`;
  const colon = ref.indexOf(':');
  const paren = ref.indexOf('(');
  if ((colon === -1 || at < colon) && (paren === -1 || at < paren)) return ref;
  return `${name}@${ref}`;
}

/** The `packages` key of a snapshot key: the peer/patch suffix removed. */
function packageKeyOf(snapshotKey: string): string {
  const split = splitAt(snapshotKey);
  if (!split) return snapshotKey;
  return `${split.name}@${stripParenSuffix(split.rest)}`;
}

function refsOf(value: unknown, into: Array<[string, string]>): void {
  if (!isObj(value)) return;
  for (const [name, ref] of Object.entries(value)) {
    const version = isObj(ref) ? ref.version : ref; // importers: {specifier, version}
    if (typeof version === 'string' || typeof version === 'number') into.push([name, String(version)]);
  }
}

function readPnpm9(data: Obj, out: Collector): void {
  const packages = isObj(data.packages) ? data.packages : {};
  const snapshots = isObj(data.snapshots) ? data.snapshots : {};
  const importers = isObj(data.importers) ? data.importers : {};

  // Which packages are reached from production (dependencies, optionalDependencies)
  // and which from devDependencies, walking the snapshot graph from every importer.
  const reach = (roots: Array<[string, string]>): Set<string> => {
    const seen = new Set<string>();
    const stack: string[] = [];
    for (const [name, ref] of roots) {
      const key = refToSnapshotKey(ref, name);
      if (key !== undefined) stack.push(key);
    }
    for (let key = stack.pop(); key !== undefined; key = stack.pop()) {
      if (seen.has(key)) continue;
      seen.add(key);
      const snapshot = snapshots[key];
      if (!isObj(snapshot)) continue;
      const refs: Array<[string, string]> = [];
      refsOf(snapshot.dependencies, refs);
      refsOf(snapshot.optionalDependencies, refs);
      for (const [name, ref] of refs) {
        const next = refToSnapshotKey(ref, name);
        if (next !== undefined && !seen.has(next)) stack.push(next);
      }
    }
    return seen;
  };
  const prodRoots: Array<[string, string]> = [];
  const devRoots: Array<[string, string]> = [];
  for (const importer of Object.values(importers)) {
    if (!isObj(importer)) continue;
    refsOf(importer.dependencies, prodRoots);
    refsOf(importer.optionalDependencies, prodRoots);
    refsOf(importer.devDependencies, devRoots);
  }
  const prod = new Set([...reach(prodRoots)].map(packageKeyOf));
  const dev = new Set([...reach(devRoots)].map(packageKeyOf));

  // A package is optional when every snapshot of it is.
  const optional = new Map<string, boolean>();
  for (const [key, snapshot] of Object.entries(snapshots)) {
    const pkgKey = packageKeyOf(key);
    const isOptional = isObj(snapshot) && snapshot.optional === true;
    optional.set(pkgKey, (optional.get(pkgKey) ?? true) && isOptional);
  }

  for (const [key, value] of Object.entries(packages)) {
    const where = `packages[${JSON.stringify(key)}]`;
    if (!isObj(value)) throw validation(`${out.label}: ${where} must be a mapping`, { file: out.label });
    const parsed = parseAtPath(key);
    if (!parsed) throw validation(`${out.label}: cannot read the package key ${JSON.stringify(key)}`, { file: out.label });
    const resolution = isObj(value.resolution) ? value.resolution : {};
    const tarball = str(resolution.tarball);
    const version = stripParenSuffix(parsed.version);
    if (isNamedVersion(version)) {
      out.add(
        {
          name: parsed.name,
          version,
          integrity: str(resolution.integrity),
          resolved: tarball,
          dev: dev.has(key) && !prod.has(key),
          optional: optional.get(key) === true,
        },
        where,
      );
      continue;
    }
    if (str(resolution.directory)) continue;
    if (resolution.type === 'git' || str(resolution.commit)) {
      out.skip(parsed.name, 'git', str(resolution.repo) ?? parsed.version);
      continue;
    }
    skipSource(out, parsed.name, classifySource(parsed.version), tarball ?? parsed.version);
  }
}

// ---------------------------------------------------------------------------
// yarn classic (v1): its own indentation-based format
//
//   # yarn lockfile v1
//
//   "@scope/a@^1.0.0", "@scope/a@^1.1.0":
//     version "1.2.3"
//     resolved "https://host/@scope/a/-/a-1.2.3.tgz#<sha1>"
//     integrity sha512-...
//     dependencies:
//       b "^2.0.0"

interface YarnBlock {
  keys: string[];
  line: number;
  fields: Map<string, string | boolean>;
}

type YarnToken = { kind: 'string'; value: string | boolean; quoted: boolean } | { kind: 'colon' } | { kind: 'comma' };

function tokenizeYarnLine(content: string, fail: (why: string) => Error): YarnToken[] {
  const tokens: YarnToken[] = [];
  let i = 0;
  while (i < content.length) {
    const c = content[i];
    if (c === ' ') {
      i++;
    } else if (c === '#') {
      break;
    } else if (c === ':') {
      tokens.push({ kind: 'colon' });
      i++;
    } else if (c === ',') {
      tokens.push({ kind: 'comma' });
      i++;
    } else if (c === '"') {
      let j = i + 1;
      while (j < content.length && content[j] !== '"') j += content[j] === '\\' ? 2 : 1;
      if (j >= content.length) throw fail('unterminated string');
      let value: string;
      try {
        value = JSON.parse(content.slice(i, j + 1)) as string;
      } catch {
        throw fail('invalid escape in string');
      }
      tokens.push({ kind: 'string', value, quoted: true });
      i = j + 1;
    } else {
      let j = i;
      while (j < content.length && !/[\s:,]/.test(content[j])) j++;
      const word = content.slice(i, j);
      const value = word === 'true' ? true : word === 'false' ? false : word;
      tokens.push({ kind: 'string', value, quoted: false });
      i = j;
    }
  }
  return tokens;
}

function parseYarnClassicText(label: string, text: string): YarnBlock[] {
  const blocks: YarnBlock[] = [];
  const lines = text.split(/\r?\n/);
  let current: YarnBlock | undefined;
  let allowedDepth = 0;
  for (let index = 0; index < lines.length; index++) {
    const raw = lines[index];
    const lineNo = index + 1;
    const fail = (why: string): Error =>
      validation(`${label} line ${lineNo}: ${why}: ${JSON.stringify(raw.slice(0, 120))}`, { file: label, line: lineNo });
    if (/^\s*(#.*)?$/.test(raw)) continue;
    const indent = /^ */.exec(raw)![0].length;
    if (raw[indent] === '\t') throw fail('tabs are not allowed for indentation');
    if (indent % 2 !== 0) throw fail('indentation must be a multiple of two spaces');
    const depth = indent / 2;
    if (depth > allowedDepth) throw fail('unexpected indentation');
    if (raw.startsWith('<<<<<<<') || raw.startsWith('>>>>>>>') || raw.startsWith('=======')) {
      throw fail('unresolved merge conflict');
    }
    const tokens = tokenizeYarnLine(raw.slice(indent), fail);

    if (depth === 0) {
      // Header: key (, key)* :
      const keys: string[] = [];
      let expectKey = true;
      let closed = false;
      for (const token of tokens) {
        if (closed) throw fail('unexpected text after ":"');
        if (expectKey) {
          if (token.kind !== 'string' || typeof token.value !== 'string') throw fail('expected a "name@range" key');
          keys.push(token.value);
          expectKey = false;
        } else if (token.kind === 'comma') {
          expectKey = true;
        } else if (token.kind === 'colon') {
          closed = true;
        } else {
          throw fail('expected "," or ":" after a key');
        }
      }
      if (!closed || expectKey) throw fail('expected a header like "name@range:"');
      // Some writers put several specs in one quoted key.
      const split = keys.flatMap((k) => k.split(/,\s*/)).filter((k) => k.length > 0);
      current = { keys: split, line: lineNo, fields: new Map() };
      blocks.push(current);
      allowedDepth = 1;
      continue;
    }

    // Field: key value | key: value | key:   (the last opens a nested mapping)
    const [key, ...rest] = tokens;
    if (!key || key.kind !== 'string') throw fail('expected a field name');
    let valueTokens = rest;
    if (valueTokens[0]?.kind === 'colon') valueTokens = valueTokens.slice(1);
    if (valueTokens.length === 0) {
      allowedDepth = depth + 1;
      continue;
    }
    const value = valueTokens[0];
    if (valueTokens.length !== 1 || value.kind !== 'string') throw fail('expected one value after the field name');
    allowedDepth = depth;
    if (depth === 1 && current) current.fields.set(String(key.value), value.value);
  }
  return blocks;
}

function readYarnClassic(blocks: YarnBlock[], out: Collector): void {
  for (const block of blocks) {
    const where = `line ${block.line}`;
    const spec = block.keys[0];
    const split = splitAt(spec);
    if (!split) throw validation(`${out.label}: ${where}: cannot read the key ${JSON.stringify(spec)}`, { file: out.label });
    let name = split.name;
    const range = split.rest;
    const version = block.fields.get('version');
    if (typeof version !== 'string' || version.length === 0) {
      throw validation(`${out.label}: ${where}: ${JSON.stringify(spec)} has no version`, { file: out.label });
    }
    const resolvedRaw = block.fields.get('resolved');
    // yarn appends `#<sha1>` to tarball URLs; a git URL's fragment is its commit and stays.
    const resolvedUrl =
      typeof resolvedRaw === 'string' && resolvedRaw.length > 0
        ? classifySource(resolvedRaw) === 'git'
          ? resolvedRaw
          : resolvedRaw.replace(/#.*$/, '')
        : undefined;
    if (range.startsWith('npm:')) {
      // Alias: "alias@npm:real-name@1.0.0" (or "npm:real-name" for any version).
      const target = range.slice(4);
      name = splitAt(target)?.name ?? target;
    } else {
      const kind = classifySource(range);
      if (kind === 'local' || kind === 'git' || kind === 'url') {
        skipSource(out, split.name, kind, resolvedUrl ?? range);
        continue;
      }
    }
    if (resolvedUrl && !isRegistryTarball(resolvedUrl)) {
      skipSource(out, name, classifySource(resolvedUrl), resolvedUrl);
      continue;
    }
    const integrity = block.fields.get('integrity');
    out.add(
      {
        name,
        version,
        integrity: typeof integrity === 'string' && integrity.length > 0 ? integrity : undefined,
        resolved: resolvedUrl,
        dev: false,
        optional: false,
      },
      where,
    );
  }
}

// ---------------------------------------------------------------------------
// yarn berry (2+): YAML

function readYarnBerry(data: Obj, out: Collector): ParsedLockfile['root'] {
  let root: ParsedLockfile['root'];
  for (const [key, value] of Object.entries(data)) {
    if (key === '__metadata') continue;
    const where = `entry ${JSON.stringify(key)}`;
    if (!isObj(value)) throw validation(`${out.label}: ${where} must be a mapping`, { file: out.label });
    const resolution = str(value.resolution);
    const split = resolution ? splitAt(resolution) : undefined;
    if (!resolution || !split) {
      throw validation(`${out.label}: ${where} has no readable resolution`, { file: out.label });
    }
    const { name, rest: ref } = split;
    if (ref.startsWith('npm:')) {
      // `npm:1.0.0`, or `npm:1.0.0::__archiveUrl=...` for a non-standard tarball URL. The
      // resolution is what yarn fetches, whatever the entry's `version` field says.
      const version = ref.slice(4).split('::')[0];
      out.add({ name, version, dev: false, optional: false }, where);
      continue;
    }
    if (ref.startsWith('workspace:')) {
      if (ref === 'workspace:.') root = { name };
      continue;
    }
    if (ref.startsWith('patch:')) continue;
    skipSource(out, name, ref.startsWith('exec:') ? 'other' : classifySource(ref), ref);
  }
  return root;
}

// ---------------------------------------------------------------------------
// bun: bun.lock

/**
 * bun.lock is JSON with trailing commas (JSONC without comments, as bun writes it). The
 * commas are removed outside strings only.
 */
function stripTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') {
        out += text[i + 1] ?? '';
        i++;
      } else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    if (c === ',') {
      let j = i + 1;
      while (j < text.length && /\s/.test(text[j])) j++;
      if (text[j] === '}' || text[j] === ']') continue;
    }
    out += c;
  }
  return out;
}

function loadBun(label: string, text: string): Loaded {
  let data: unknown;
  try {
    data = JSON.parse(stripTrailingCommas(text));
  } catch (err) {
    throw validation(`${label}: not a bun.lock (${(err as Error).message})`, { file: label });
  }
  if (!isObj(data) || typeof data.lockfileVersion !== 'number' || !isObj(data.packages)) {
    throw validation(`${label}: a bun.lock needs a numeric "lockfileVersion" and a "packages" object`, { file: label });
  }
  if (data.lockfileVersion > 2) throw validation(`${label}: bun.lock lockfileVersion ${data.lockfileVersion} is not supported (0 to 2 are)`, { file: label });
  return { format: 'bun', label, data };
}

/**
 * Each package: `[id, registry, info, integrity]` for registry packages (`registry` is "" for
 * the default registry, or the registry's URL); workspace and link packages have ids like
 * `name@workspace:path` and `name@link:path`; tarball URLs, files and git have their own.
 * Dependencies bun marks dev-only are not recorded in bun.lock, so entries carry no flags.
 */
function readBun(data: Obj, out: Collector): ParsedLockfile['root'] {
  const packages = data.packages as Obj;
  for (const [key, value] of Object.entries(packages)) {
    if (!Array.isArray(value) || typeof value[0] !== 'string') {
      out.skip(key.split('/').pop() ?? key, 'other');
      continue;
    }
    const id = value[0];
    const split = splitAt(id);
    if (!split) {
      out.skip(key, 'other', id);
      continue;
    }
    const { name, rest } = split;
    if (/^(npm:)?\d/.test(rest) && typeof value[1] === 'string' && (value[1] === '' || /^https?:\/\//i.test(value[1]))) {
      const version = rest.replace(/^npm:/, '');
      const registry = value[1] as string;
      const integrity = typeof value[3] === 'string' && /^sha(1|256|384|512)-/.test(value[3]) ? value[3] : undefined;
      // A registry URL ("http://host/") or the tarball itself; a tarball URL outside the registry layout is a url source.
      if (registry !== '' && registry.endsWith('.tgz') && !isRegistryTarball(registry)) {
        out.skip(name, 'url', registry);
        continue;
      }
      out.add({ name, version, integrity, resolved: registry.endsWith('.tgz') ? registry : undefined, dev: false, optional: false }, `"${key}"`);
      continue;
    }
    skipSource(out, name, classifySource(rest), rest);
  }
  const workspaces = isObj(data.workspaces) ? data.workspaces : {};
  const rootPkg = isObj(workspaces['']) ? workspaces[''] : {};
  const name = str(rootPkg.name);
  return name ? { name } : undefined;
}
