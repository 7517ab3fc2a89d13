import type { Knex } from 'knex';

/**
 * A write to a package's stored document or tarballs (a publish, unpublish, deprecation or
 * dist-tag change; a version the upstream took down) is announced on this channel with the
 * package's name once it is written, so every process drops its decisions and held responses
 * and tarballs for the package: they were made from what was stored before. Instances share
 * the package storage; without this, another instance served a version unpublished here from
 * memory, and kept a deprecated version allowed under the `deprecated` rule.
 */
export const PACKAGE_CHANNEL = 'gatekeeper_packages';

/** NOTIFY on PACKAGE_CHANNEL (delivered at once: no transaction surrounds a storage write). */
export async function announcePackageChange(db: Knex, name: string): Promise<void> {
  await db.raw('select pg_notify(?, ?)', [PACKAGE_CHANNEL, name]);
}
