/**
 * Publish documents as npm sends them (PUT /<name>), built around a real tarball, for tests
 * that publish over HTTP without the npm CLI.
 */
import { buildTarball, integrityOf, shasumOf } from './tarball';

export interface PublishDocumentOptions {
  /** The tarball's package.json (default: name, version and MIT). */
  packageJson?: Record<string, unknown>;
  /** Fields of the manifest sent beside the tarball (default: name, version and MIT). */
  manifest?: Record<string, unknown>;
  /** Top-level fields of the document, replacing the built ones. */
  overrides?: Record<string, unknown>;
}

export function publishDocument(name: string, version: string, options: PublishDocumentOptions = {}): Record<string, unknown> {
  const packageJson = options.packageJson ?? { name, version, license: 'MIT' };
  const tarball = buildTarball({ 'package/package.json': JSON.stringify(packageJson), 'package/index.js': `module.exports = '${name}@${version}';` });
  const filename = `${name.split('/').pop()}-${version}.tgz`;
  return {
    _id: name,
    name,
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        name,
        version,
        license: 'MIT',
        ...options.manifest,
        dist: { integrity: integrityOf(tarball), shasum: shasumOf(tarball), tarball: `http://localhost/${name}/-/${filename}` },
      },
    },
    _attachments: { [filename]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
    ...options.overrides,
  };
}
