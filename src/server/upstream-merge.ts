import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import { deprecationOf, mergeUpstream, MergedDocument, withDeprecation } from '../core/packument-merge';
import { localStorageOf } from './verdaccio-local-storage';

/**
 * Verdaccio's side of core/packument-merge.ts. Verdaccio 6.8 brings a proxied package's stored
 * copy up to date in two add-only steps, on every refresh: `mergeVersions` of
 * verdaccio/build/lib/metadata-utils (called through that module's exports by storage.js's
 * `_syncUplinksMetadata`) merges the upstream's document into the copy it read, and the local
 * storage's `updateVersions` merges that into the copy it reads again before writing (versions
 * and tags it lacks are added, none removed). installUpstreamMerge puts mergeUpstream in the
 * first, and has the second also remove what mergeUpstream removed: the versions the upstream
 * unpublished and the tags it no longer has, in the same read-modify-write of the package
 * Verdaccio's own changes use (`_updatePackage`, under the package's lock).
 *
 * Which versions a document unpublished comes from the gateway's normalisation; both facts are
 * remembered by a document's `versions` object, which Verdaccio passes along unchanged (it
 * copies the documents around it).
 */
const unpublishedOf = new WeakMap<object, readonly string[]>();
interface Merged {
  removed: string[];
  tags: Record<string, string>;
  deprecated: Record<string, string | undefined>;
}
const mergedOf = new WeakMap<object, Merged>();

/** Remembers the versions an upstream document unpublished, for its merge. */
export function noteUnpublished(packument: { versions?: object }, unpublished: readonly string[]): void {
  if (packument.versions && unpublished.length > 0) unpublishedOf.set(packument.versions, unpublished);
}

/**
 * Replaces Verdaccio's merge, and completes its stored copy's update, on `storage` (Verdaccio's
 * Storage); `changed` is told of a stored copy whose versions were removed (naming them) or
 * whose deprecations changed, once it is written. False when either is not there to replace
 * (another Verdaccio): the merge stays add-only.
 */
export function installUpstreamMerge(storage: unknown, logger: Logger, changed: (name: string, removed: readonly string[]) => void): boolean {
  const utils = createRequire(__filename)('verdaccio/build/lib/metadata-utils') as { mergeVersions?: unknown };
  const local = localStorageOf(storage);
  if (typeof utils.mergeVersions !== 'function' || !local) return false;
  utils.mergeVersions = (copy: MergedDocument & { name?: string }, up: Partial<MergedDocument>) => {
    const { removed, deprecated } = mergeUpstream(copy, up, (up.versions && unpublishedOf.get(up.versions)) ?? []);
    mergedOf.set(copy.versions, { removed, tags: copy['dist-tags'], deprecated });
    if (removed.length > 0) logger.info({ package: copy.name, versions: removed.slice(0, 20) }, 'the upstream unpublished versions of a proxied package: removed from its stored copy');
  };
  const updateVersions = local.updateVersions.bind(local);
  const updatePackage = local._updatePackage.bind(local);
  local.updateVersions = (name, packageInfo, callback) => {
    updateVersions(name, packageInfo, (err, stored) => {
      const merged = packageInfo.versions ? mergedOf.get(packageInfo.versions) : undefined;
      if (err || !stored || !merged || !leftBehind(stored, merged)) return callback(err, stored);
      let updated = stored;
      updatePackage(
        name,
        (copy, done) => {
          for (const version of merged.removed) delete copy.versions[version];
          for (const [version, text] of Object.entries(merged.deprecated)) {
            if (Object.hasOwn(copy.versions, version)) copy.versions[version] = withDeprecation(copy.versions[version], text);
          }
          copy['dist-tags'] = { ...merged.tags };
          updated = copy;
          done(null);
        },
        (updateErr) => {
          if (!updateErr && (merged.removed.length > 0 || Object.keys(merged.deprecated).length > 0)) changed(name, merged.removed);
          callback(updateErr ?? null, updated);
        },
      );
    });
  };
  return true;
}

/** Whether the stored copy still has a version the merge removed, a deprecation other than the merge's, or tags other than the merge's. */
function leftBehind(stored: MergedDocument, merged: Merged): boolean {
  if (merged.removed.some((version) => Object.hasOwn(stored.versions, version))) return true;
  for (const [version, text] of Object.entries(merged.deprecated)) {
    if (Object.hasOwn(stored.versions, version) && deprecationOf(stored.versions[version]) !== text) return true;
  }
  const tags = stored['dist-tags'];
  const keys = Object.keys(tags);
  return keys.length !== Object.keys(merged.tags).length || keys.some((tag) => tags[tag] !== merged.tags[tag]);
}
