import type { Request, Response } from 'express';
import type { Packument } from '../../core/packument';
import { isValidPackageName } from '../../core/names';
import type { GatekeeperRuntime, VerdaccioStorage } from '../runtime';
import { readRawPackument } from './manifests';
import { routeOf } from './routes';

/**
 * `npm search` (GET /-/v1/search) through the policy: the local packages and the upstream's
 * search only propose names; every result is then described from the
 * package's filtered packument, with one policy snapshot, so a blocked version is never
 * advertised and a package with no allowed version is not listed. Any error on a name drops
 * that name (fail closed). `/-/all` is not offered at all.
 */

const DEFAULT_SIZE = 20;
const MAX_SIZE = 100;
const MAX_FROM = 1000;
/** Names decided at once. */
const CONCURRENCY = 8;

function clamp(value: string | null, fallback: number, max: number): number {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isFinite(n) && n >= 0 ? Math.min(n, max) : fallback;
}

/**
 * The names a search looks at, without duplicates, at most `want`: local packages whose name has
 * every word first, then the upstream's results in its order, then the other local packages.
 * Read from our own storage and the upstream client, not through Verdaccio's search, whose
 * local part never ends on a document that lists no version (every version unpublished).
 */
async function candidates(runtime: GatekeeperRuntime, text: string, upstreamQuery: URLSearchParams, want: number): Promise<string[]> {
  const words = text.toLowerCase().split(/\s+/).filter(Boolean);
  const [local, upstream] = await Promise.all([
    runtime.storage.listPackages().then(
      (list) => list.map((p) => p.name),
      (err: unknown) => {
        runtime.logger.warn({ err }, 'search: the package storage could not be listed; only the upstream is searched');
        return [] as string[];
      },
    ),
    runtime.upstreamSearch(upstreamQuery.toString()).then(
      (body) => (Array.isArray(body.objects) ? body.objects : []).map((o) => (o as { package?: { name?: unknown } })?.package?.name),
      (err: unknown) => {
        runtime.logger.debug({ err }, 'search: the upstream could not be searched; only local packages are listed');
        return [] as unknown[];
      },
    ),
  ]);
  const named = (name: string) => words.every((w) => name.toLowerCase().includes(w));
  const names = new Set<string>();
  for (const name of [...local.filter(named), ...upstream, ...local]) {
    if (names.size >= want) break;
    if (typeof name === 'string' && isValidPackageName(name)) names.add(name);
  }
  return [...names];
}

function matches(text: string, packument: Packument, version: Record<string, unknown>): boolean {
  if (!text) return true;
  const haystack = [packument.name, version.description, ...(Array.isArray(version.keywords) ? version.keywords : [])]
    .filter((v): v is string => typeof v === 'string')
    .join(' ')
    .toLowerCase();
  return text
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .every((word) => haystack.includes(word));
}

export function createSearchHandler(runtime: GatekeeperRuntime, storage: VerdaccioStorage) {
  const { governance } = runtime;

  async function describe(req: Request, name: string, text: string): Promise<object | undefined> {
    try {
      const raw = await readRawPackument(runtime, storage, name, req);
      await governance.prepare(raw);
      const { packument } = governance.filterPackument(raw);
      const versions = packument.versions ?? {};
      const latest = packument['dist-tags']?.latest;
      if (typeof latest !== 'string' || !Object.hasOwn(versions, latest)) return undefined;
      const manifest = versions[latest] as Record<string, unknown>;
      if (!matches(text, packument, manifest)) return undefined;
      return {
        package: {
          name: packument.name,
          version: latest,
          description: typeof manifest.description === 'string' ? manifest.description : undefined,
          keywords: Array.isArray(manifest.keywords) ? manifest.keywords.filter((k) => typeof k === 'string') : undefined,
          date: packument.time?.[latest],
          publisher: manifest._npmUser,
          // npm's search output maps over maintainers: always a list of { username, email }.
          maintainers: maintainersOf(manifest.maintainers ?? packument.maintainers),
          links: {},
        },
        score: { final: 1, detail: { quality: 1, popularity: 1, maintenance: 1 } },
        searchScore: 1,
      };
    } catch (err) {
      runtime.logger.debug({ err, name }, 'search result dropped: its packument could not be decided');
      return undefined;
    }
  }

  return async function search(req: Request, res: Response): Promise<void> {
    const query = routeOf(req)?.query ?? new URLSearchParams();
    const text = (query.get('text') ?? '').slice(0, 200);
    const size = clamp(query.get('size'), DEFAULT_SIZE, MAX_SIZE) || DEFAULT_SIZE;
    const from = clamp(query.get('from'), 0, MAX_FROM);
    const upstreamQuery = new URLSearchParams({ text, size: String(Math.min(MAX_SIZE * 2, (from + size) * 2)), from: '0' });
    // The current policy must be trusted before anything is listed (EPOLICYUNAVAILABLE otherwise).
    governance.cache.current();
    const names = await candidates(runtime, text, upstreamQuery, (from + size) * 2);
    const objects: object[] = [];
    for (let i = 0; i < names.length && objects.length < from + size; i += CONCURRENCY) {
      const described = await Promise.all(names.slice(i, i + CONCURRENCY).map((name) => describe(req, name, text)));
      for (const d of described) if (d) objects.push(d);
    }
    const page = objects.slice(from, from + size);
    res.setHeader('cache-control', 'no-store');
    res.status(200).json({ objects: page, total: page.length, time: new Date().toUTCString() });
  };
}

/** Registry maintainers (`{ name, email }`, from the document) as npm's search results spell them. */
function maintainersOf(raw: unknown): Array<{ username: string; email?: string }> {
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((m): m is { name?: unknown; username?: unknown; email?: unknown } => !!m && typeof m === 'object')
    .map((m) => ({ username: String(m.username ?? m.name ?? ''), ...(typeof m.email === 'string' ? { email: m.email } : {}) }))
    .filter((m) => m.username !== '');
}
