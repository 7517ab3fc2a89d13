import semver from 'semver';
import { GatekeeperError } from './errors';
import type { Packument } from './packument';
import { isLegacyVersion, isSemverVersion, sortVersions } from './versions';

/**
 * Resolves the production dependency tree of name@range the way npm would install it:
 * the highest non-deprecated version satisfying each range (npm prefers `latest` when it
 * satisfies), following `dependencies`, `optionalDependencies` and non-optional
 * `peerDependencies` (npm 7+ installs those), never `devDependencies`. Each name@version
 * appears once. Packuments come from the injected fetcher, so this stays pure.
 */

export interface ResolvedNode {
  name: string;
  version: string;
  /** How it is reached: the root, or the package@version that needs it. */
  parent: string | null;
  kind: 'root' | 'dependency' | 'optional' | 'peer';
  /** The version's manifest (license, scripts, …) for the checks. */
  manifest: Record<string, unknown>;
}

export interface ResolveResult {
  nodes: ResolvedNode[];
  /** Optional dependencies that could not be resolved (npm skips those). */
  skipped: Array<{ name: string; range: string; reason: string }>;
}

export type PackumentFetcher = (name: string) => Promise<Packument | undefined>;

export const MAX_TREE_SIZE = 5000;

/**
 * npm's choice: `latest` if it satisfies, else the highest non-deprecated satisfying version.
 * A range never matches a legacy key (1.0.0beta); a range that is exactly such a key picks it.
 */
export function pickVersion(packument: Packument, range: string): string | undefined {
  const all = packument.versions ?? {};
  if (isLegacyVersion(range)) return Object.hasOwn(all, range) ? range : undefined;
  const versions = Object.keys(all).filter((v) => isSemverVersion(v));
  const tags = packument['dist-tags'];
  const latest = tags && Object.hasOwn(tags, 'latest') ? tags.latest : undefined;
  if (typeof latest === 'string' && versions.includes(latest) && semver.satisfies(latest, range)) return latest;
  const satisfying = sortVersions(versions.filter((v) => semver.satisfies(v, range)), true);
  const notDeprecated = satisfying.find((v) => !(all[v] as { deprecated?: unknown } | null)?.deprecated);
  return notDeprecated ?? satisfying[0];
}

interface Edge {
  name: string;
  range: string;
  parent: string;
  kind: ResolvedNode['kind'];
}

/**
 * A dependency map as it should be; a map that is not an object counts as none, and a
 * range that is not a string becomes one that no registry resolves (so it is not skipped).
 */
function depMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (!value || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [name, range] of Object.entries(value)) out[name] = typeof range === 'string' ? range : `<not a string: ${range === null ? 'null' : typeof range}>`;
  return out;
}

function edgesOf(node: ResolvedNode): Edge[] {
  const m = node.manifest;
  const parent = `${node.name}@${node.version}`;
  const edges: Edge[] = [];
  const optional = depMap(m.optionalDependencies);
  for (const [name, range] of Object.entries(depMap(m.dependencies))) {
    if (!Object.hasOwn(optional, name)) edges.push({ name, range, parent, kind: 'dependency' });
  }
  for (const [name, range] of Object.entries(optional)) edges.push({ name, range, parent, kind: 'optional' });
  const meta = m.peerDependenciesMeta && typeof m.peerDependenciesMeta === 'object' ? (m.peerDependenciesMeta as Record<string, unknown>) : {};
  for (const [name, range] of Object.entries(depMap(m.peerDependencies))) {
    const entry = Object.hasOwn(meta, name) ? (meta[name] as { optional?: unknown } | null) : undefined;
    if (!(entry && typeof entry === 'object' && entry.optional)) edges.push({ name, range, parent, kind: 'peer' });
  }
  return edges;
}

/**
 * Ranges npm does not resolve from a registry (git, files, URLs, aliases) cannot be approved
 * here. An exact legacy version (`1.0.0beta`) is a registry range.
 */
function registryRange(range: string): boolean {
  return semver.validRange(range) !== null || isLegacyVersion(range);
}

function manifestOf(packument: Packument, version: string): Record<string, unknown> {
  const manifest = packument.versions && Object.hasOwn(packument.versions, version) ? packument.versions[version] : undefined;
  return manifest && typeof manifest === 'object' ? manifest : {};
}

export async function resolveTree(name: string, range: string, fetch: PackumentFetcher): Promise<ResolveResult> {
  const nodes = new Map<string, ResolvedNode>();
  const skipped: ResolveResult['skipped'] = [];
  const cache = new Map<string, Promise<Packument | undefined>>();
  const load = (n: string) => {
    let p = cache.get(n);
    if (!p) {
      p = fetch(n);
      cache.set(n, p);
    }
    return p;
  };

  const rootPackument = await load(name);
  if (!rootPackument) throw new GatekeeperError('ENOTFOUND', `${name} is not on the upstream registry. Check the name`);
  const rootVersion = pickVersion(rootPackument, range);
  if (!rootVersion) throw new GatekeeperError('ENOTFOUND', `no version of ${name} satisfies ${range}. Check the range (npm view ${name} versions lists them)`);
  const root: ResolvedNode = { name, version: rootVersion, parent: null, kind: 'root', manifest: manifestOf(rootPackument, rootVersion) };
  nodes.set(`${name}@${rootVersion}`, root);

  let frontier = edgesOf(root);
  while (frontier.length > 0) {
    const next: Edge[] = [];
    // One level at a time, fetched concurrently.
    await Promise.all(frontier.map((edge) => load(edge.name)));
    for (const edge of frontier) {
      const optional = edge.kind === 'optional';
      const packument = await load(edge.name);
      // A dist-tag (`latest`, `next`) resolves through the registry like a range.
      const tags = packument?.['dist-tags'];
      const isTag = !registryRange(edge.range) && /^[A-Za-z][\w.-]*$/.test(edge.range) && !!tags && Object.hasOwn(tags, edge.range);
      if (!registryRange(edge.range) && !isTag) {
        if (optional) skipped.push({ name: edge.name, range: edge.range, reason: 'not a registry range' });
        else throw new GatekeeperError('EVALIDATION', `${edge.parent} depends on ${edge.name}@${edge.range}, which is not a registry version range`);
        continue;
      }
      const tagged = isTag && tags ? tags[edge.range] : undefined;
      const version = isTag
        ? typeof tagged === 'string' && packument?.versions && Object.hasOwn(packument.versions, tagged) ? tagged : undefined
        : packument ? pickVersion(packument, edge.range) : undefined;
      if (!packument || !version) {
        const reason = packument ? `no version satisfies ${edge.range}` : 'not on the upstream registry';
        if (optional) {
          skipped.push({ name: edge.name, range: edge.range, reason });
          continue;
        }
        throw new GatekeeperError('ENOTFOUND', `${edge.parent} depends on ${edge.name}@${edge.range}: ${reason}`);
      }
      const key = `${edge.name}@${version}`;
      if (nodes.has(key)) continue;
      const node: ResolvedNode = { name: edge.name, version, parent: edge.parent, kind: edge.kind, manifest: manifestOf(packument, version) };
      nodes.set(key, node);
      if (nodes.size > MAX_TREE_SIZE) throw new GatekeeperError('EVALIDATION', `the dependency tree of ${name}@${range} has more than ${MAX_TREE_SIZE} packages. Approve it in parts, or with a narrower range`);
      next.push(...edgesOf(node));
    }
    frontier = next;
  }
  return { nodes: [...nodes.values()], skipped };
}
