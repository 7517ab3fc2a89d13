/**
 * A proxied package's stored copy brought up to date with the upstream's document: what
 * Verdaccio's `mergeVersions` does on every refresh, which the upstream gateway replaces with
 * this (src/server/upstream-merge.ts). Verdaccio's merge only ever adds: it moves a dist-tag
 * only forward by semver and keeps every version once stored. So a tag the upstream moved back,
 * or off a version it took down, stayed where it was (new installs got the removed version, or
 * failed on its tarball for good), and a tag naming a legacy version (`1.0.0beta`, which semver
 * cannot compare) threw, leaving every later tag of the package where it was.
 *
 * Here:
 * - a version the upstream added is added; a stored version is never replaced (a published
 *   version's manifest does not change, and the stored one is what was decided on), but for
 *   its `deprecated` text, the one field a publisher changes afterwards (`npm deprecate`): the
 *   upstream's is taken (an empty one, npm's un-deprecation, removes it), so the `deprecated`
 *   rule and clients' warnings see a deprecation made after the version was first stored;
 * - a stored version the upstream unpublished (its `time` still names it, its `versions` no
 *   longer: `unpublished`, from normalizePackument) is removed; one its document does not name
 *   at all stays (an older copy of the upstream's document, served by a cache, must not take
 *   versions away);
 * - the upstream's dist-tags replace the stored ones, when it sends any (the gateway has checked
 *   each names a version it sends); without any, the stored ones stay but those naming a removed
 *   version;
 * - the readme is the upstream's, when it sends one.
 *
 * Mutates `local`, as Verdaccio's merge does.
 */
export interface MergedDocument {
  versions: Record<string, unknown>;
  'dist-tags': Record<string, string>;
  readme?: unknown;
}

export interface MergeResult {
  added: string[];
  removed: string[];
  /** Stored versions whose deprecation the upstream changed, with their text now (undefined: no longer deprecated). */
  deprecated: Record<string, string | undefined>;
}

export function mergeUpstream(local: MergedDocument, up: Partial<MergedDocument>, unpublished: readonly string[]): MergeResult {
  const added: string[] = [];
  const removed: string[] = [];
  const deprecated: Record<string, string | undefined> = {};
  const upVersions = up.versions ?? {};
  for (const version of Object.keys(upVersions)) {
    if (!Object.hasOwn(local.versions, version) || local.versions[version] == null) {
      local.versions[version] = upVersions[version];
      added.push(version);
      continue;
    }
    const text = deprecationOf(upVersions[version]);
    if (deprecationOf(local.versions[version]) !== text) {
      local.versions[version] = withDeprecation(local.versions[version], text);
      deprecated[version] = text;
    }
  }
  for (const version of unpublished) {
    if (Object.hasOwn(local.versions, version) && !Object.hasOwn(upVersions, version)) {
      delete local.versions[version];
      removed.push(version);
    }
  }
  const upTags = up['dist-tags'] ?? {};
  if (Object.keys(upTags).length > 0) {
    local['dist-tags'] = { ...upTags };
  } else {
    for (const [tag, version] of Object.entries(local['dist-tags'])) if (!Object.hasOwn(local.versions, version)) delete local['dist-tags'][tag];
  }
  if (up.readme !== undefined) local.readme = up.readme;
  return { added, removed, deprecated };
}

/** A manifest's deprecation text; undefined when it is not deprecated (npm's un-deprecation leaves an empty one). */
export function deprecationOf(manifest: unknown): string | undefined {
  const text = (manifest as { deprecated?: unknown } | null)?.deprecated;
  return typeof text === 'string' && text !== '' ? text : undefined;
}

/** A copy of a stored manifest with the deprecation given (none: the field removed). */
export function withDeprecation(manifest: unknown, text: string | undefined): unknown {
  const { deprecated: _old, ...rest } = manifest as Record<string, unknown>;
  return text === undefined ? rest : { ...rest, deprecated: text };
}
