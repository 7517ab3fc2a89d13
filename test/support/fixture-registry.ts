/**
 * A hermetic upstream npm registry for tests: an HTTP server on 127.0.0.1 that
 * serves packuments (full and abbreviated), tarballs it builds itself, and the
 * security advisories bulk endpoint. Nothing is ever downloaded.
 *
 * Fault hooks (for tests of how a client copes with a broken or hostile upstream):
 *
 * - Per version, in FixtureVersion (the packument lies or the tarball differs):
 *   - `tarballPackageJson`: fields merged over the package.json written into the tarball
 *     (e.g. an added postinstall, another name, version or license) while the packument keeps
 *     the declared manifest; dist.integrity names the tarball actually served.
 *   - `wrongIntegrity`: dist.integrity and dist.shasum name other bytes than the ones served.
 *   - `dist`: overrides of dist.tarball (e.g. a URL on another host:port), dist.integrity and
 *     dist.shasum (null leaves the field out).
 * - Per request target, with `fault(target, fault)`: a packument (`{ packument: name }`, both
 *   full and abbreviated), a tarball (`{ tarball: name, version }`) or any exact path
 *   (`{ path: '/-/ping' }`). A Fault replaces or delays the normal answer: `status`, a raw
 *   `body` (any bytes: truncated JSON, HTML, `null`, `[]`), extra `headers`, a false or missing
 *   `contentLength`, `delayMs` before the headers, a `trickle` of N bytes per interval, a
 *   `redirect` to another URL, `destroyAfterBytes` (the connection is cut mid-body), `reset`
 *   (the connection is reset before any answer), and `times` (how many requests it applies to). The request is still recorded in `requests`.
 *   `clearFaults()` removes them all.
 */
import http from 'http';
import type { AddressInfo, Socket } from 'net';
import { gunzipSync, inflateSync, brotliDecompressSync } from 'zlib';
import semver from 'semver';
import { buildTarball, integrityOf, shasumOf } from './tarball';

export interface FixtureVersion {
  version: string;
  /** Written verbatim as package.json "license" when present (string or {type,url} object). */
  license?: unknown;
  /** Legacy array form, written verbatim when present. */
  licenses?: unknown;
  description?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  bundleDependencies?: string[];
  bin?: string | Record<string, string>;
  engines?: Record<string, string>;
  os?: string[];
  cpu?: string[];
  /** e.g. { postinstall: 'node x.js' } */
  scripts?: Record<string, string>;
  /** Extra files inside the tarball (paths relative to the package root), e.g. 'binding.gyp'. */
  files?: Record<string, string>;
  /** Goes into packument "time"; default: 2020-01-01 + index days. */
  publishedAt?: Date | string;
  deprecated?: string;
  /** Leave this version out of "time". */
  omitTime?: boolean;
  /**
   * Fault hook: fields merged over the package.json written into the tarball only (an
   * undefined value removes the field); the packument keeps the declared manifest.
   */
  tarballPackageJson?: Record<string, unknown>;
  /** A version key strict semver rejects, as real packuments have (express's `1.0.0beta`). */
  legacy?: boolean;
  /** Fault hook: dist.integrity and dist.shasum name bytes other than the ones served. */
  wrongIntegrity?: boolean;
  /** Fault hook: dist fields as given (null: leave the field out), e.g. a tarball URL on another host. */
  dist?: { tarball?: string | null; integrity?: string | null; shasum?: string | null; attestations?: unknown };
  /** The publisher the registry records (`_npmUser`), e.g. { name: 'alice', email: 'alice@example.test' }. */
  npmUser?: { name: string; email?: string };
}

/** A replaced or delayed answer; see the file header. */
export interface Fault {
  /** Status code sent instead of the normal one. */
  status?: number;
  /** Bytes sent instead of the normal body. */
  body?: string | Buffer;
  /** Headers added to (or replacing) the normal ones. */
  headers?: Record<string, string>;
  /** The content-length header sent: a number (possibly false), or null for none (chunked). */
  contentLength?: number | null;
  /** Milliseconds to wait before sending the headers. */
  delayMs?: number;
  /** Sends the body `bytes` at a time, waiting `intervalMs` between pieces. */
  trickle?: { bytes: number; intervalMs: number };
  /** Answers with a redirect (302 unless `redirectStatus`) to this URL. */
  redirect?: string;
  redirectStatus?: number;
  /** Cuts the connection after sending the headers and this many body bytes. */
  destroyAfterBytes?: number;
  /**
   * Resets the connection without answering at all, as a server does that closes a kept-alive
   * connection just as the client sends its next request on it.
   */
  reset?: boolean;
  /** Applies to this many requests, then the normal answer returns. Default: every request. */
  times?: number;
}

export type FaultTarget = { packument: string } | { tarball: string; version: string } | { path: string };

export interface FixturePackage {
  name: string;
  versions: FixtureVersion[];
  distTags?: Record<string, string>;
}

export type Severity = 'low' | 'moderate' | 'high' | 'critical';

export interface FixtureAdvisory {
  id: number;
  url: string;
  title: string;
  severity: Severity;
  vulnerable_versions: string;
  cvss?: unknown;
  cwe?: string[];
  github_advisory_id?: string;
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** Decoded request body (utf8) for requests that carried one. */
  body?: string;
}

export interface FixtureRegistry {
  /** http://127.0.0.1:<port>/ (trailing slash) */
  url: string;
  requests: RecordedRequest[];
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  readonly connections: number;
  /** Add or replace a package at runtime. */
  addPackage(pkg: FixturePackage): void;
  /** Add or replace one version (creating the package if needed); `tag` also points that dist-tag at it. */
  addVersion(name: string, v: FixtureVersion, tag?: string): void;
  setAdvisories(a: Record<string, FixtureAdvisory[]>): void;
  /** The exact bytes served for name@version (throws if unknown). */
  tarball(name: string, version: string): Buffer;
  /** Fault hook: replaces or delays the answers for a packument, a tarball or a path (see the file header). */
  fault(target: FaultTarget, fault: Fault): void;
  /** Removes every fault set with `fault()`. */
  clearFaults(): void;
  close(): Promise<void>;
}

export interface FixtureRegistryOptions {
  /**
   * Extra headers sent with every packument response (e.g. { 'npm-notice': '...' }).
   * Note: npm only prints an `npm-notice` header from a GET 200 response when the
   * response is not stored in its HTTP cache, i.e. add `'cache-control': 'no-store'`.
   */
  packumentHeaders?: Record<string, string>;
  /**
   * An upstream that needs credentials: every request without `authorization: Bearer <token>`
   * is answered 401 (and still recorded in `requests`).
   */
  requireToken?: string;
}

/** Base for default publish times: 2020-01-01T00:00:00.000Z + index days. */
const DEFAULT_TIME_BASE = Date.UTC(2020, 0, 1);
const DAY_MS = 24 * 60 * 60 * 1000;

const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'] as const;

const ABBREVIATED_FIELDS = [
  'name',
  'version',
  'deprecated',
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'bundleDependencies',
  'bin',
  'engines',
  'os',
  'cpu',
  'dist',
  'hasInstallScript',
] as const;

const ABBREVIATED_CONTENT_TYPE = 'application/vnd.npm.install-v1+json';

interface StoredVersion {
  input: FixtureVersion;
  /** Manifest without dist (what goes into the tarball's package.json, plus registry-side fields). */
  manifest: Record<string, unknown>;
  tarball: Buffer;
  integrity: string;
  shasum: string;
  time?: string;
}

interface StoredPackage {
  name: string;
  versions: Map<string, StoredVersion>;
  distTags: Record<string, string>;
  /** Number of versions ever added, used for default publish times. */
  added: number;
}

function basenameOf(name: string): string {
  return name.startsWith('@') ? name.slice(name.indexOf('/') + 1) : name;
}

function hasInstallScript(v: FixtureVersion): boolean {
  const scripts = v.scripts ?? {};
  if (INSTALL_SCRIPTS.some((s) => typeof scripts[s] === 'string')) return true;
  return Object.keys(v.files ?? {}).some((f) => f.replace(/^\.?\/+/, '') === 'binding.gyp');
}

function isoTime(t: Date | string): string {
  const d = typeof t === 'string' ? new Date(t) : t;
  if (Number.isNaN(d.getTime())) throw new Error(`invalid publishedAt: ${String(t)}`);
  return d.toISOString();
}

/** The package.json written into the tarball: the manifest fields, in npm's usual order. */
function tarballPackageJson(name: string, v: FixtureVersion): Record<string, unknown> {
  const pkg: Record<string, unknown> = { name, version: v.version };
  if (v.description !== undefined) pkg.description = v.description;
  pkg.main = 'index.js';
  if (v.license !== undefined) pkg.license = v.license;
  if (v.licenses !== undefined) pkg.licenses = v.licenses;
  if (v.bin !== undefined) pkg.bin = v.bin;
  if (v.scripts !== undefined) pkg.scripts = { ...v.scripts };
  if (v.dependencies !== undefined) pkg.dependencies = { ...v.dependencies };
  if (v.devDependencies !== undefined) pkg.devDependencies = { ...v.devDependencies };
  if (v.optionalDependencies !== undefined) pkg.optionalDependencies = { ...v.optionalDependencies };
  if (v.peerDependencies !== undefined) pkg.peerDependencies = { ...v.peerDependencies };
  if (v.peerDependenciesMeta !== undefined) pkg.peerDependenciesMeta = { ...v.peerDependenciesMeta };
  if (v.bundleDependencies !== undefined) pkg.bundleDependencies = [...v.bundleDependencies];
  if (v.engines !== undefined) pkg.engines = { ...v.engines };
  if (v.os !== undefined) pkg.os = [...v.os];
  if (v.cpu !== undefined) pkg.cpu = [...v.cpu];
  return pkg;
}

function buildVersion(name: string, v: FixtureVersion, index: number): StoredVersion {
  if (!v.legacy && !semver.valid(v.version)) throw new Error(`invalid fixture version ${name}@${v.version}`);
  const pkgJson = tarballPackageJson(name, v);
  const packedJson: Record<string, unknown> = { ...pkgJson };
  for (const [key, value] of Object.entries(v.tarballPackageJson ?? {})) {
    if (value === undefined) delete packedJson[key];
    else packedJson[key] = value;
  }
  const files: Record<string, string> = {
    'package.json': JSON.stringify(packedJson, null, 2) + '\n',
    'index.js': `module.exports = ${JSON.stringify(`${name}@${v.version}`)};\n`,
  };
  for (const [file, content] of Object.entries(v.files ?? {})) {
    const rel = file.replace(/^\.?\/+/, '');
    if (rel === 'package.json') throw new Error('fixture files may not override package.json');
    files[rel] = content;
  }
  const tarball = buildTarball(files);
  // wrongIntegrity: the packument names the bytes of a slightly different tarball.
  const named = v.wrongIntegrity ? buildTarball({ ...files, 'index.js': `${files['index.js']}// other bytes\n` }) : tarball;

  // Registry-side manifest: what `npm publish` would send (normalized package.json) plus _id.
  const manifest: Record<string, unknown> = { ...pkgJson, _id: `${name}@${v.version}` };
  const hasGyp = Object.keys(files).includes('binding.gyp');
  const scripts = (v.scripts ?? {}) as Record<string, string>;
  if (hasGyp && scripts.install === undefined && scripts.preinstall === undefined) {
    // npm's publish-time normalization of node-gyp packages.
    manifest.scripts = { ...scripts, install: 'node-gyp rebuild' };
    manifest.gypfile = true;
  }
  if (hasInstallScript(v)) manifest.hasInstallScript = true;
  if (v.deprecated !== undefined) manifest.deprecated = v.deprecated;
  if (v.npmUser !== undefined) manifest._npmUser = { ...v.npmUser };

  const time = v.omitTime
    ? undefined
    : v.publishedAt !== undefined
      ? isoTime(v.publishedAt)
      : new Date(DEFAULT_TIME_BASE + index * DAY_MS).toISOString();

  return { input: v, manifest, tarball, integrity: integrityOf(named), shasum: shasumOf(named), time };
}

/** Where an answer is written: the real response, or a capture a fault then replays. */
interface Sink {
  writeHead(status: number, headers: Record<string, string>): unknown;
  end(body?: Buffer): unknown;
}

function sendJson(
  res: Sink,
  status: number,
  body: unknown,
  contentType = 'application/json',
  extraHeaders: Record<string, string> = {},
): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    ...extraHeaders,
    'content-type': contentType,
    'content-length': String(payload.length),
  });
  res.end(payload);
}

function notFound(res: Sink): void {
  sendJson(res, 404, { error: 'not found' });
}

function decodeBody(raw: Buffer, encoding: string | undefined): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  if (!enc || enc === 'identity') return raw;
  if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(raw);
  if (enc === 'deflate') return inflateSync(raw);
  if (enc === 'br') return brotliDecompressSync(raw);
  throw new Error(`unsupported content-encoding: ${enc}`);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/**
 * Parses a registry path into a package name and the rest. Accepts
 * `/name`, `/@scope/name`, `/@scope%2fname`, `/@scope%2Fname`, each optionally followed
 * by `/-/<file>.tgz` or `/<version-or-tag>`.
 */
function parsePackagePath(pathname: string): { name: string; rest: string[] } | null {
  const segments = pathname.split('/').slice(1);
  if (segments.length === 0 || !segments[0]) return null;
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
  let name: string;
  let rest: string[];
  if (decoded[0].startsWith('@')) {
    if (decoded[0].includes('/')) {
      // @scope%2fname
      name = decoded[0];
      rest = decoded.slice(1);
    } else {
      if (decoded.length < 2 || !decoded[1]) return null;
      name = `${decoded[0]}/${decoded[1]}`;
      rest = decoded.slice(2);
    }
  } else {
    name = decoded[0];
    rest = decoded.slice(1);
  }
  if (name.split('/').length > 2) return null;
  return { name, rest };
}

export async function startFixtureRegistry(
  packages: FixturePackage[],
  opts: FixtureRegistryOptions = {},
): Promise<FixtureRegistry> {
  const store = new Map<string, StoredPackage>();
  let advisories: Record<string, FixtureAdvisory[]> = {};
  const requests: RecordedRequest[] = [];
  let baseUrl = '';

  function addVersionTo(pkg: StoredPackage, v: FixtureVersion): void {
    pkg.versions.set(v.version, buildVersion(pkg.name, v, pkg.added));
    pkg.added += 1;
  }

  function addPackage(p: FixturePackage): void {
    const pkg: StoredPackage = { name: p.name, versions: new Map(), distTags: { ...(p.distTags ?? {}) }, added: 0 };
    for (const v of p.versions) addVersionTo(pkg, v);
    for (const [tag, version] of Object.entries(pkg.distTags)) {
      if (!pkg.versions.has(version)) throw new Error(`dist-tag ${tag} of ${p.name} points at unknown ${version}`);
    }
    store.set(p.name, pkg);
  }

  function addVersion(name: string, v: FixtureVersion, tag?: string): void {
    let pkg = store.get(name);
    if (!pkg) {
      pkg = { name, versions: new Map(), distTags: {}, added: 0 };
      store.set(name, pkg);
    }
    addVersionTo(pkg, v);
    if (tag) pkg.distTags[tag] = v.version;
  }

  function distTagsOf(pkg: StoredPackage): Record<string, string> {
    const tags: Record<string, string> = {};
    const all = [...pkg.versions.keys()];
    const stable = all.filter((v) => semver.valid(v) !== null && semver.prerelease(v) === null);
    const pool = stable.length ? stable : all.filter((v) => semver.valid(v) !== null);
    const latest = pool.sort(semver.rcompare)[0];
    if (latest) tags.latest = latest;
    return { ...tags, ...pkg.distTags };
  }

  function sortedVersions(pkg: StoredPackage): StoredVersion[] {
    // Legacy keys (like express's 1.0.0beta) sort by their coerced version, then as text.
    const order = (v: string) => semver.valid(v) ?? semver.coerce(v)?.version ?? '0.0.0';
    return [...pkg.versions.values()].sort((a, b) => semver.compare(order(a.input.version), order(b.input.version)) || a.input.version.localeCompare(b.input.version));
  }

  function tarballUrl(name: string, version: string): string {
    return `${baseUrl}${name}/-/${basenameOf(name)}-${version}.tgz`;
  }

  function fullManifest(name: string, sv: StoredVersion): Record<string, unknown> {
    const dist: Record<string, unknown> = { tarball: tarballUrl(name, sv.input.version), integrity: sv.integrity, shasum: sv.shasum };
    for (const [key, value] of Object.entries(sv.input.dist ?? {})) {
      if (value === null) delete dist[key];
      else if (value !== undefined) dist[key] = value;
    }
    return { ...structuredClone(sv.manifest), dist };
  }

  function timesOf(pkg: StoredPackage): Record<string, string> {
    const versions = sortedVersions(pkg);
    const stamps = versions.map((v) => v.time).filter((t): t is string => t !== undefined);
    const sortedStamps = [...stamps].sort();
    const fallback = new Date(DEFAULT_TIME_BASE).toISOString();
    const time: Record<string, string> = {
      created: sortedStamps[0] ?? fallback,
      modified: sortedStamps[sortedStamps.length - 1] ?? fallback,
    };
    for (const v of versions) if (v.time !== undefined) time[v.input.version] = v.time;
    return time;
  }

  function fullPackument(pkg: StoredPackage): Record<string, unknown> {
    const versions: Record<string, unknown> = {};
    for (const sv of sortedVersions(pkg)) versions[sv.input.version] = fullManifest(pkg.name, sv);
    return {
      _id: pkg.name,
      name: pkg.name,
      'dist-tags': distTagsOf(pkg),
      versions,
      time: timesOf(pkg),
      readme: `# ${pkg.name}\n\nA fixture package served by the test registry.\n`,
      readmeFilename: 'README.md',
    };
  }

  function abbreviatedPackument(pkg: StoredPackage): Record<string, unknown> {
    const versions: Record<string, unknown> = {};
    for (const sv of sortedVersions(pkg)) {
      const full = fullManifest(pkg.name, sv);
      const abbrev: Record<string, unknown> = {};
      for (const field of ABBREVIATED_FIELDS) if (full[field] !== undefined) abbrev[field] = full[field];
      versions[sv.input.version] = abbrev;
    }
    return { name: pkg.name, modified: timesOf(pkg).modified, 'dist-tags': distTagsOf(pkg), versions };
  }

  function bulkAdvisories(body: unknown): Record<string, FixtureAdvisory[]> {
    const result: Record<string, FixtureAdvisory[]> = {};
    if (!body || typeof body !== 'object') return result;
    for (const [name, requested] of Object.entries(body as Record<string, unknown>)) {
      const list = Object.hasOwn(advisories, name) ? advisories[name] : undefined;
      if (!list || !Array.isArray(requested)) continue;
      const versions = requested.filter((v): v is string => typeof v === 'string' && semver.valid(v) !== null);
      const hits = list
        .filter((a) => versions.some((v) => semver.satisfies(v, a.vulnerable_versions, { includePrerelease: true })))
        .map((a) => ({ cwe: [], cvss: { score: 0, vectorString: null }, ...structuredClone(a) }));
      if (hits.length) result[name] = hits;
    }
    return result;
  }

  async function handle(req: http.IncomingMessage, res: Sink): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const rawBody = await readBody(req);
    const record: RecordedRequest = { method, url: req.url ?? '/', headers: { ...req.headers } };
    requests.push(record);
    if (opts.requireToken !== undefined && req.headers.authorization !== `Bearer ${opts.requireToken}`) {
      sendJson(res, 401, { error: 'authentication required' }, 'application/json', { 'www-authenticate': 'Bearer' });
      return;
    }
    let body: Buffer = rawBody;
    if (rawBody.length) {
      try {
        body = decodeBody(rawBody, req.headers['content-encoding'] as string | undefined);
        record.body = body.toString('utf8');
      } catch (err) {
        sendJson(res, 400, { error: `bad request body: ${(err as Error).message}` });
        return;
      }
    }

    // Tolerate clients that join `${url}/name` (double slash).
    const pathname = (req.url ?? '/').split(/[?#]/)[0].replace(/^\/{2,}/, '/');

    if (method === 'POST' && pathname === '/-/npm/v1/security/advisories/bulk') {
      let parsed: unknown;
      try {
        parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
      } catch {
        sendJson(res, 400, { error: 'invalid json' });
        return;
      }
      sendJson(res, 200, bulkAdvisories(parsed));
      return;
    }
    if (method === 'POST' && (pathname === '/-/npm/v1/security/audits/quick' || pathname === '/-/npm/v1/security/audits')) {
      sendJson(res, 200, {});
      return;
    }
    if (method === 'GET' && pathname === '/-/ping') {
      sendJson(res, 200, {});
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
      sendJson(res, 405, { error: 'method not allowed' });
      return;
    }

    const parsed = parsePackagePath(pathname);
    const pkg = parsed ? store.get(parsed.name) : undefined;
    if (!parsed || !pkg) {
      notFound(res);
      return;
    }

    const { rest } = parsed;
    if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
      const accept = String(req.headers.accept ?? '');
      const extra = opts.packumentHeaders ?? {};
      if (accept.includes(ABBREVIATED_CONTENT_TYPE)) {
        sendJson(res, 200, abbreviatedPackument(pkg), ABBREVIATED_CONTENT_TYPE, extra);
      } else {
        sendJson(res, 200, fullPackument(pkg), 'application/json', extra);
      }
      return;
    }

    if (rest.length === 2 && rest[0] === '-') {
      const prefix = `${basenameOf(pkg.name)}-`;
      const file = rest[1];
      const version = file.startsWith(prefix) && file.endsWith('.tgz') ? file.slice(prefix.length, -4) : '';
      const sv = pkg.versions.get(version);
      if (!sv) {
        notFound(res);
        return;
      }
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(sv.tarball.length),
      });
      res.end(method === 'HEAD' ? undefined : sv.tarball);
      return;
    }

    if (rest.length === 1) {
      // GET /<name>/<version-or-tag>: a single full manifest.
      const tags = distTagsOf(pkg);
      const version = tags[rest[0]] ?? rest[0];
      const sv = pkg.versions.get(version);
      if (sv) {
        sendJson(res, 200, fullManifest(pkg.name, sv));
        return;
      }
    }
    notFound(res);
  }

  for (const p of packages) addPackage(p);

  // Fault hooks -------------------------------------------------------------------------
  const faults = new Map<string, Fault>();
  const timers = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();

  function faultKey(target: FaultTarget): string {
    if ('path' in target) return `path ${target.path}`;
    if ('packument' in target) return `packument ${target.packument}`;
    return `tarball ${target.tarball}@${target.version}`;
  }

  /** The fault for a request, counting down its `times`. */
  function takeFault(req: http.IncomingMessage): Fault | undefined {
    if (faults.size === 0) return undefined;
    const pathname = (req.url ?? '/').split(/[?#]/)[0].replace(/^\/{2,}/, '/');
    const keys = [`path ${pathname}`];
    const parsed = parsePackagePath(pathname);
    if (parsed) {
      const { name, rest } = parsed;
      if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) keys.push(`packument ${name}`);
      const prefix = `${basenameOf(name)}-`;
      if (rest.length === 2 && rest[0] === '-' && rest[1].startsWith(prefix) && rest[1].endsWith('.tgz')) {
        keys.push(`tarball ${name}@${rest[1].slice(prefix.length, -4)}`);
      }
    }
    for (const key of keys) {
      const fault = faults.get(key);
      if (!fault) continue;
      if (fault.times !== undefined) {
        if (fault.times <= 1) faults.delete(key);
        else faults.set(key, { ...fault, times: fault.times - 1 });
      }
      return fault;
    }
    return undefined;
  }

  /** A timer close() can cut short. */
  function sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          timers.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      timers.add(entry);
    });
  }

  async function deliver(res: http.ServerResponse, normal: { status: number; headers: Record<string, string>; body: Buffer }, fault: Fault): Promise<void> {
    let gone = false;
    res.on('close', () => (gone = true));
    if (fault.delayMs) await sleep(fault.delayMs);
    if (gone || closed) return;
    if (fault.reset) {
      res.socket?.resetAndDestroy();
      return;
    }
    if (fault.redirect !== undefined) {
      res.writeHead(fault.redirectStatus ?? 302, { location: fault.redirect, 'content-length': '0' });
      res.end();
      return;
    }
    const body = fault.body === undefined ? normal.body : Buffer.from(fault.body);
    const headers: Record<string, string> = { ...normal.headers, ...(fault.headers ?? {}) };
    delete headers['content-length'];
    if (fault.contentLength === undefined) headers['content-length'] = String(body.length);
    else if (fault.contentLength !== null) headers['content-length'] = String(fault.contentLength);
    res.writeHead(fault.status ?? normal.status, headers);
    const limit = fault.destroyAfterBytes ?? body.length;
    const step = fault.trickle ? Math.max(1, fault.trickle.bytes) : Math.max(1, limit);
    for (let off = 0; off < Math.min(limit, body.length); off += step) {
      if (gone || closed) return;
      res.write(body.subarray(off, Math.min(off + step, limit)));
      if (fault.trickle) await sleep(fault.trickle.intervalMs);
    }
    if (gone || closed) return;
    // Cutting the connection: the socket is ended once what was written is flushed.
    if (fault.destroyAfterBytes !== undefined) res.socket?.end();
    else res.end();
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const fault = takeFault(req);
    if (!fault) return handle(req, res);
    const normal: { status: number; headers: Record<string, string>; body: Buffer } = { status: 200, headers: {}, body: Buffer.alloc(0) };
    await handle(req, {
      writeHead(status, headers) {
        normal.status = status;
        normal.headers = { ...headers };
      },
      end(body) {
        if (body) normal.body = body;
      },
    });
    await deliver(res, normal, fault);
  }

  let closed = false;
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = http.createServer((req, res) => {
    serve(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { error: String((err as Error)?.message ?? err) });
      else res.destroy();
    });
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}/`;

  let closing: Promise<void> | undefined;

  return {
    url: baseUrl,
    requests,
    get connections() {
      return connections;
    },
    addPackage,
    addVersion,
    setAdvisories(a) {
      advisories = structuredClone(a);
    },
    tarball(name, version) {
      const sv = store.get(name)?.versions.get(version);
      if (!sv) throw new Error(`fixture registry has no ${name}@${version}`);
      return sv.tarball;
    },
    fault(target, fault) {
      faults.set(faultKey(target), { ...fault });
    },
    clearFaults() {
      faults.clear();
    },
    close() {
      closed = true;
      for (const entry of timers) {
        clearTimeout(entry.timer);
        entry.resolve();
      }
      timers.clear();
      if (!closing) {
        closing = new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
          for (const socket of sockets) socket.destroy();
        });
      }
      return closing;
    },
  };
}
