import semver from 'semver';
import { GatekeeperError } from './errors';
import type { Packument } from './packument';

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

/** npm's choice: `latest` if it satisfies, else the highest non-deprecated satisfying version. */
export function pickVersion(packument: Packument, range: string): string | undefined {
  const versions = Object.keys(packument.versions ?? {}).filter((v) => semver.valid(v));
  const latest = packument['dist-tags']?.latest;
  if (latest && versions.includes(latest) && semver.satisfies(latest, range)) return latest;
  const satisfying = versions.filter((v) => semver.satisfies(v, range)).sort(semver.rcompare);
  const notDeprecated = satisfying.find((v) => !(packument.versions?.[v] as { deprecated?: unknown })?.deprecated);
  return notDeprecated ?? satisfying[0];
}

interface Edge {
  name: string;
  range: string;
  parent: string;
  kind: ResolvedNode['kind'];
}

function edgesOf(node: ResolvedNode): Edge[] {
  const m = node.manifest as {
    dependencies?: Record<string, string>;
    optionalDependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  };
  const parent = `${node.name}@${node.version}`;
  const edges: Edge[] = [];
  const optional = m.optionalDependencies ?? {};
  for (const [name, range] of Object.entries(m.dependencies ?? {})) {
    if (!(name in optional)) edges.push({ name, range, parent, kind: 'dependency' });
  }
  for (const [name, range] of Object.entries(optional)) edges.push({ name, range, parent, kind: 'optional' });
  for (const [name, range] of Object.entries(m.peerDependencies ?? {})) {
    if (!m.peerDependenciesMeta?.[name]?.optional) edges.push({ name, range, parent, kind: 'peer' });
  }
  return edges;
}

/** Ranges npm does not resolve from a registry (git, files, URLs, aliases) cannot be approved here. */
function registryRange(range: string): boolean {
  return semver.validRange(range) !== null;
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
  if (!rootPackument) throw new GatekeeperError('ENOTFOUND', `${name} is not on the upstream registry`);
  const rootVersion = pickVersion(rootPackument, range);
  if (!rootVersion) throw new GatekeeperError('ENOTFOUND', `no version of ${name} satisfies ${range}`);
  const root: ResolvedNode = { name, version: rootVersion, parent: null, kind: 'root', manifest: rootPackument.versions?.[rootVersion] ?? {} };
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
      const tagged = !registryRange(edge.range) && /^[A-Za-z][\w.-]*$/.test(edge.range) ? packument?.['dist-tags']?.[edge.range] : undefined;
      if (!registryRange(edge.range) && !tagged) {
        if (optional) skipped.push({ name: edge.name, range: edge.range, reason: 'not a registry range' });
        else throw new GatekeeperError('EVALIDATION', `${edge.parent} depends on ${edge.name}@${edge.range}, which is not a registry version range`);
        continue;
      }
      const version = tagged ?? (packument ? pickVersion(packument, edge.range) : undefined);
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
      const node: ResolvedNode = { name: edge.name, version, parent: edge.parent, kind: edge.kind, manifest: packument.versions?.[version] ?? {} };
      nodes.set(key, node);
      if (nodes.size > MAX_TREE_SIZE) throw new GatekeeperError('EVALIDATION', `the dependency tree of ${name}@${range} has more than ${MAX_TREE_SIZE} packages`);
      next.push(...edgesOf(node));
    }
    frontier = next;
  }
  return { nodes: [...nodes.values()], skipped };
}
