/**
 * What reading a tarball's own package.json found, compared with the manifest the packument
 * (or a publish) declared for that version. Clients act on the tarball's package.json, so
 * decisions use the stricter of the two (see the manifest rule in rules.ts).
 */

/** The fields compared. name, version and installScripts mismatches are the manifest rule's. */
export type InspectedField = 'name' | 'version' | 'installScripts' | 'license' | 'dependencies' | 'bin';

export interface ManifestMismatch {
  field: InspectedField;
  /** What the packument (or publish body) says, shortened for display. */
  declared: unknown;
  /** What the tarball's package.json says, shortened for display. */
  actual: unknown;
}

export interface TarballInspection {
  name: string;
  version: string;
  /** The tarball's package.json, as read (sanitised). */
  manifest: Record<string, unknown>;
  /** Whether the tarball has a binding.gyp at its root (npm then runs `node-gyp rebuild`). */
  hasBindingGyp: boolean;
  mismatches: ManifestMismatch[];
  /** The integrity the bytes were verified against (sha512 SRI, or sha1 from the shasum). */
  integrity: string;
  inspectedAt: Date;
}

/** Mismatches that make the manifest rule fire. */
export const RULE_FIELDS: readonly InspectedField[] = ['name', 'version', 'installScripts'];
