import { compareVersions, versionReading } from '../versions';

/**
 * A package's versions in publish order, computed once per packument (a packument's
 * `versions` object is the key, so deciding every version of it costs one sort, not one per
 * version). Versions without a publish time are ordered by version among the others.
 */
export interface PackumentView {
  versions: Record<string, Record<string, unknown> | undefined>;
  time?: Record<string, unknown>;
}

interface History {
  ordered: string[];
  index: Map<string, number>;
}

const histories = new WeakMap<object, History>();

export function historyOf(packument: PackumentView): History {
  const cached = histories.get(packument.versions);
  if (cached) return cached;
  const at = (v: string) => {
    const t = packument.time?.[v];
    const ms = typeof t === 'string' ? Date.parse(t) : NaN;
    return Number.isNaN(ms) ? undefined : ms;
  };
  const ordered = Object.keys(packument.versions).sort((a, b) => {
    const ta = at(a);
    const tb = at(b);
    if (ta !== undefined && tb !== undefined && ta !== tb) return ta - tb;
    return compareVersions(a, b);
  });
  const history = { ordered, index: new Map(ordered.map((v, i) => [v, i])) };
  histories.set(packument.versions, history);
  return history;
}

/** The versions published before `version`, newest first (at most `limit`). */
export function publishedBefore(packument: PackumentView, version: string, limit = Infinity): string[] {
  const { ordered, index } = historyOf(packument);
  const i = index.get(version);
  if (i === undefined) return [];
  return ordered.slice(Math.max(0, i - limit), i).reverse();
}

/**
 * A version's release line: its major version, or for 0.x its major and minor (where npm's
 * caret ranges draw the line); legacy keys by their loose reading.
 */
export function releaseLine(version: string): string | undefined {
  const r = versionReading(version);
  if (!r) return undefined;
  return r.major === 0 ? `0.${r.minor}` : `${r.major}`;
}

/** The newest version below `version` in its release line, if any. */
export function previousInLine(packument: PackumentView, version: string): string | undefined {
  const line = releaseLine(version);
  if (line === undefined) return undefined;
  let best: string | undefined;
  for (const v of Object.keys(packument.versions)) {
    if (v === version || releaseLine(v) !== line || compareVersions(v, version) >= 0) continue;
    if (best === undefined || compareVersions(v, best) > 0) best = v;
  }
  return best;
}
