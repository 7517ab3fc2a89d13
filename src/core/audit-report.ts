import { createHash } from 'node:crypto';
import { Advisory, affects, isSeverity, Severity } from './advisory';
import { GatekeeperError } from './errors';
import { isValidPackageName } from './names';

/**
 * The audit endpoints answered from the gatekeeper's own advisories (upstream answers stored,
 * OSV imports), in the two formats clients use. Pure: no I/O.
 * - bulk (`/-/npm/v1/security/advisories/bulk`; npm 7+, yarn 4, bun): asked `{ name: [versions] }`,
 *   answers `{ name: [{ id, url, title, severity, vulnerable_versions, cwe, cvss }] }`.
 * - quick and full (`/-/npm/v1/security/audits/quick`, `/-/npm/v1/security/audits`; npm 6's
 *   format, pnpm): asked a dependency tree (`dependencies: { name: { version,
 *   dependencies } }`), answers `{ actions, advisories: { id: {…, findings} }, muted, metadata }`.
 * An advisory is reported when it affects a version asked about, whatever the policy's
 * threshold: audit shows what is known; the policy decides what installs.
 */

export type AuditTargets = Map<string, Map<string, string[]>>;

/**
 * A name no registry can hold, or a version that is no short line of text, has no advisories
 * here: it is left out of what is looked up (never reaching a query), and reported clean.
 */
function add(targets: AuditTargets, name: string, version: string, path: string): void {
  if (!isValidPackageName(name) || version.length > 256 || !/^[\x21-\x7e]+$/.test(version)) return;
  let versions = targets.get(name);
  if (!versions) {
    versions = new Map();
    targets.set(name, versions);
  }
  const paths = versions.get(version) ?? [];
  if (path && paths.length < 100 && !paths.includes(path)) paths.push(path);
  versions.set(version, paths);
}

const MAX_PACKAGES = 50_000;
/** Versions asked about in one request, all packages together: a tree far larger than any project's. */
const MAX_VERSIONS = 200_000;

function invalid(what: string): GatekeeperError {
  return new GatekeeperError('EVALIDATION', `the audit request is not valid: ${what}. Send what npm, pnpm, yarn or bun send`);
}

/** The bulk request: `{ "<name>": ["<version>", …] }`. */
export function bulkTargets(body: unknown): AuditTargets {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('expected an object of package names and version lists');
  const entries = Object.entries(body as Record<string, unknown>);
  if (entries.length > MAX_PACKAGES) throw invalid('too many packages');
  let count = 0;
  for (const [name, versions] of entries) {
    if (!Array.isArray(versions)) throw invalid(`the versions of ${name.slice(0, 100)} are not a list`);
    // Counted before any is read: a request naming millions is refused at once.
    if ((count += versions.length) > MAX_VERSIONS) throw invalid('too many versions');
  }
  const targets: AuditTargets = new Map();
  for (const [name, versions] of entries) for (const version of versions as unknown[]) if (typeof version === 'string') add(targets, name, version, '');
  return targets;
}

/** The bulk request without the names `drop` says (private ones, never sent upstream); the same object when none is dropped. */
export function bulkWithout(body: Record<string, unknown>, drop: (name: string) => boolean): Record<string, unknown> {
  const names = Object.keys(body);
  if (!names.some(drop)) return body;
  return Object.fromEntries(names.filter((name) => !drop(name)).map((name) => [name, body[name]]));
}

/**
 * The quick/full request's tree without the packages `drop` says, their dependencies put in
 * their place (hoisted to the level they were at, an entry already there kept), so what a
 * private package depends on is still asked about; the same object when none is dropped.
 */
export function treeWithout(body: Record<string, unknown>, drop: (name: string) => boolean): Record<string, unknown> {
  let dropped = false;
  const prune = (deps: unknown, depth: number): unknown => {
    if (!deps || typeof deps !== 'object' || Array.isArray(deps) || depth > 200) return deps;
    const out: Record<string, unknown> = {};
    const hoisted: Array<[string, unknown]> = [];
    const visit = (name: string, dep: unknown) => {
      const d = dep as { dependencies?: unknown } | null;
      if (drop(name)) {
        dropped = true;
        if (d && typeof d === 'object' && d.dependencies && typeof d.dependencies === 'object') {
          for (const [child, value] of Object.entries(prune(d.dependencies, depth + 1) as Record<string, unknown>)) hoisted.push([child, value]);
        }
        return;
      }
      out[name] = d && typeof d === 'object' && d.dependencies !== undefined ? { ...d, dependencies: prune(d.dependencies, depth + 1) } : dep;
    };
    for (const [name, dep] of Object.entries(deps as Record<string, unknown>)) visit(name, dep);
    for (const [name, dep] of hoisted) if (!Object.hasOwn(out, name)) out[name] = dep;
    return out;
  };
  const dependencies = prune(body.dependencies, 0);
  return dropped ? { ...body, dependencies } : body;
}

/** The upstream's bulk answer without the names `drop` says: its advisories are of another package of that name. */
export function upstreamBulkWithout(upstream: unknown, drop: (name: string) => boolean): unknown {
  if (!upstream || typeof upstream !== 'object' || Array.isArray(upstream)) return upstream;
  return bulkWithout(upstream as Record<string, unknown>, drop);
}

/** The upstream's quick/full answer without the advisories of the names `drop` says. */
export function upstreamQuickWithout(upstream: unknown, drop: (name: string) => boolean): unknown {
  const theirs = upstream as { advisories?: unknown } | null;
  if (!theirs || typeof theirs !== 'object' || !theirs.advisories || typeof theirs.advisories !== 'object') return upstream;
  const advisories = Object.fromEntries(Object.entries(theirs.advisories).filter(([, a]) => !(a && typeof a === 'object' && typeof (a as { module_name?: unknown }).module_name === 'string' && drop((a as { module_name: string }).module_name))));
  return { ...theirs, advisories };
}

/** The quick/full request: npm 6's tree (`dependencies`, nested), as npm 6, pnpm and yarn 1 send it. */
export function treeTargets(body: unknown): AuditTargets {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw invalid('expected an object with dependencies');
  const targets: AuditTargets = new Map();
  let seen = 0;
  const walk = (deps: unknown, parents: string[], depth: number) => {
    if (!deps || typeof deps !== 'object' || depth > 200) return;
    for (const [name, dep] of Object.entries(deps as Record<string, unknown>)) {
      if (++seen > MAX_PACKAGES) throw invalid('too many packages');
      const d = dep as { version?: unknown; dependencies?: unknown } | null;
      if (!d || typeof d !== 'object') continue;
      const path = [...parents, name];
      if (typeof d.version === 'string') add(targets, name, d.version, path.join('>'));
      walk(d.dependencies, path, depth + 1);
    }
  };
  walk((body as { dependencies?: unknown }).dependencies, [], 0);
  return targets;
}

/** A stable number for an advisory (clients key and print advisories by a numeric id). */
export function numericId(advisory: Advisory): number {
  const npm = /^npm:(\d+)$/.exec(advisory.key);
  if (npm) return Number(npm[1]);
  // Above the range npm's own ids use, so the two never collide.
  return 1_000_000_000 + (parseInt(createHash('sha1').update(advisory.key).digest('hex').slice(0, 7), 16) % 1_000_000_000);
}

function affectedVersions(advisory: Advisory, versions: Iterable<string>): string[] {
  // The policy's own rule for which versions an advisory affects.
  return [...versions].filter((v) => affects(advisory, v));
}

function urlOf(advisory: Advisory): string {
  return advisory.url ?? (advisory.id.startsWith('GHSA-') ? `https://github.com/advisories/${advisory.id}` : '');
}

export interface BulkEntry {
  id: number | string;
  url: string;
  title: string;
  severity: Severity;
  vulnerable_versions: string;
  cwe: string[];
  cvss: { score: number; vectorString: string | null };
  [key: string]: unknown;
}

export type BulkAnswer = Record<string, BulkEntry[]>;

/** Our bulk answer: per package, the advisories that affect a version asked about. */
export function bulkAnswer(targets: AuditTargets, known: Map<string, Advisory[]>): BulkAnswer {
  const answer: BulkAnswer = Object.create(null) as BulkAnswer;
  for (const [name, versions] of targets) {
    const entries = (known.get(name) ?? [])
      .filter((a) => affectedVersions(a, versions.keys()).length > 0)
      .map((a) => ({
        id: numericId(a),
        url: urlOf(a),
        title: a.title,
        severity: a.severity,
        vulnerable_versions: a.vulnerableVersions,
        cwe: [],
        cvss: { score: 0, vectorString: null },
      }));
    if (entries.length > 0) answer[name] = entries;
  }
  return answer;
}

/** The same advisory from two sources: one GHSA id or URL, or the same id. */
function sameAdvisory(a: { id?: unknown; url?: unknown; github_advisory_id?: unknown }, b: { id?: unknown; url?: unknown; github_advisory_id?: unknown }): boolean {
  const ghsa = (x: typeof a) => (typeof x.github_advisory_id === 'string' ? x.github_advisory_id : /GHSA(-[23456789cfghjmpqrvwx]{4}){3}/i.exec(String(x.url ?? ''))?.[0])?.toUpperCase();
  const ga = ghsa(a);
  if (ga && ga === ghsa(b)) return true;
  if (typeof a.url === 'string' && a.url !== '' && a.url === b.url) return true;
  return a.id !== undefined && a.id === b.id;
}

/** The upstream's bulk answer with ours added (the upstream's entry wins for one advisory); anything malformed upstream is dropped. */
export function mergeBulk(ours: BulkAnswer, upstream: unknown): BulkAnswer {
  // No prototype: package names such as `constructor` and `__proto__` are plain keys here.
  const merged: BulkAnswer = Object.create(null) as BulkAnswer;
  if (upstream && typeof upstream === 'object' && !Array.isArray(upstream)) {
    for (const [name, entries] of Object.entries(upstream as Record<string, unknown>)) {
      if (!Array.isArray(entries)) continue;
      const valid = entries.filter((e): e is BulkEntry => !!e && typeof e === 'object' && typeof (e as BulkEntry).vulnerable_versions === 'string' && isSeverity((e as BulkEntry).severity));
      if (valid.length > 0) merged[name] = valid;
    }
  }
  for (const [name, entries] of Object.entries(ours)) {
    const list = merged[name] ?? [];
    for (const entry of entries) if (!list.some((e) => sameAdvisory(e, entry))) list.push(entry);
    merged[name] = list;
  }
  return merged;
}

export interface QuickAdvisory {
  id: number;
  title: string;
  module_name: string;
  vulnerable_versions: string;
  patched_versions: string;
  severity: Severity;
  url: string;
  github_advisory_id: string | null;
  findings: Array<{ version: string; paths: string[] }>;
  [key: string]: unknown;
}

export interface QuickAnswer {
  actions: unknown[];
  advisories: Record<string, QuickAdvisory>;
  muted: unknown[];
  metadata: {
    vulnerabilities: Record<'info' | Severity, number>;
    dependencies: number;
    devDependencies: number;
    optionalDependencies: number;
    totalDependencies: number;
  };
}

function patchedVersions(a: Advisory): string {
  if (a.fixedIn.length > 0) return a.fixedIn.map((v) => `>=${v}`).join(' || ');
  return '<0.0.0';
}

/** Our quick/full answer for a dependency tree. */
export function quickAnswer(targets: AuditTargets, known: Map<string, Advisory[]>): QuickAnswer {
  const advisories: Record<string, QuickAdvisory> = {};
  for (const [name, versions] of targets) {
    for (const a of known.get(name) ?? []) {
      const hit = affectedVersions(a, versions.keys());
      if (hit.length === 0) continue;
      const id = numericId(a);
      advisories[String(id)] = {
        id,
        title: a.title,
        module_name: name,
        vulnerable_versions: a.vulnerableVersions,
        patched_versions: patchedVersions(a),
        severity: a.severity,
        url: urlOf(a),
        github_advisory_id: a.id.startsWith('GHSA-') ? a.id : null,
        cves: [],
        cwe: [],
        overview: a.title,
        recommendation: a.fixedIn.length > 0 ? `Upgrade to version ${a.fixedIn[0]} or later` : 'None',
        references: urlOf(a),
        access: 'public',
        created: null,
        updated: null,
        deleted: null,
        found_by: null,
        reported_by: null,
        metadata: null,
        findings: hit.map((version) => ({ version, paths: versions.get(version) ?? [] })),
      };
    }
  }
  return { actions: [], advisories, muted: [], metadata: metadataOf(advisories, targets.size) };
}

function metadataOf(advisories: Record<string, QuickAdvisory>, dependencies: number): QuickAnswer['metadata'] {
  const vulnerabilities = { info: 0, low: 0, moderate: 0, high: 0, critical: 0 };
  for (const a of Object.values(advisories)) {
    const count = a.findings.reduce((n, f) => n + Math.max(1, f.paths.length), 0);
    vulnerabilities[a.severity] += count;
  }
  return { vulnerabilities, dependencies, devDependencies: 0, optionalDependencies: 0, totalDependencies: dependencies };
}

/** The upstream's quick/full answer with our advisories added; its counts recomputed. */
export function mergeQuick(ours: QuickAnswer, upstream: unknown): QuickAnswer {
  const theirs = (upstream && typeof upstream === 'object' ? upstream : {}) as Partial<QuickAnswer>;
  const advisories: Record<string, QuickAdvisory> = {};
  for (const [id, a] of Object.entries(theirs.advisories && typeof theirs.advisories === 'object' ? theirs.advisories : {})) {
    if (a && typeof a === 'object' && isSeverity(a.severity) && Array.isArray(a.findings)) advisories[id] = a;
  }
  for (const [id, a] of Object.entries(ours.advisories)) {
    if (!Object.values(advisories).some((b) => sameAdvisory(b, a))) advisories[id] = a;
  }
  const dependencies = typeof theirs.metadata?.dependencies === 'number' ? theirs.metadata.dependencies : ours.metadata.dependencies;
  return {
    actions: Array.isArray(theirs.actions) ? theirs.actions : [],
    advisories,
    muted: Array.isArray(theirs.muted) ? theirs.muted : [],
    metadata: metadataOf(advisories, dependencies),
  };
}


