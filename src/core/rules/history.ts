import { compareVersions, sortVersions, versionReading } from '../versions';

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
  /** Per version, the version just below it in its release line (computed on first use). */
  belowInLine?: Map<string, string | undefined>;
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

/**
 * The newest version below `version` in its release line, if any. Every line is sorted once
 * per packument, so deciding all of a package's versions stays O(n log n).
 */
export function previousInLine(packument: PackumentView, version: string): string | undefined {
  const history = historyOf(packument);
  if (!history.belowInLine) {
    const lines = new Map<string, string[]>();
    for (const v of Object.keys(packument.versions)) {
      const line = releaseLine(v);
      if (line === undefined) continue;
      const list = lines.get(line);
      if (list) list.push(v);
      else lines.set(line, [v]);
    }
    const below = new Map<string, string | undefined>();
    for (const list of lines.values()) {
      const sorted = sortVersions(list);
      sorted.forEach((v, i) => below.set(v, i > 0 && compareVersions(sorted[i - 1], v) < 0 ? sorted[i - 1] : undefined));
    }
    history.belowInLine = below;
  }
  return history.belowInLine.get(version);
}
