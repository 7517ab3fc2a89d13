import { GatekeeperError } from '../../../src/core/errors';
import { parseRegistryPath } from '../../../src/core/registry-path';

describe('parseRegistryPath: packuments', () => {
  it.each([
    ['/left-pad', 'left-pad'],
    ['/left-pad/', 'left-pad'],
    ['/@acme%2fwidgets', '@acme/widgets'],
    ['/@acme%2Fwidgets', '@acme/widgets'],
    ['/@acme/widgets', '@acme/widgets'],
    ['/%40acme%2Fwidgets', '@acme/widgets'],
  ])('%s is the packument of %s', (path, name) => {
    expect(parseRegistryPath(path)).toEqual({ kind: 'packument', name });
  });
});

describe('parseRegistryPath: versions and tags', () => {
  it.each([
    ['/left-pad/1.0.0', 'left-pad', '1.0.0'],
    ['/left-pad/latest', 'left-pad', 'latest'],
    ['/left-pad/2.0.0-beta.1', 'left-pad', '2.0.0-beta.1'],
    ['/@acme%2fwidgets/1.0.0', '@acme/widgets', '1.0.0'],
    ['/@acme/widgets/next', '@acme/widgets', 'next'],
  ])('%s asks for %s at %s', (path, name, spec) => {
    expect(parseRegistryPath(path)).toEqual({ kind: 'version', name, spec });
  });
});

describe('parseRegistryPath: tarballs', () => {
  it('parses an unscoped tarball', () => {
    expect(parseRegistryPath('/left-pad/-/left-pad-1.0.0.tgz')).toEqual({
      kind: 'tarball',
      name: 'left-pad',
      filename: 'left-pad-1.0.0.tgz',
      version: '1.0.0',
    });
  });

  it.each(['/@acme%2fwidgets/-/widgets-1.0.0.tgz', '/@acme%2Fwidgets/-/widgets-1.0.0.tgz', '/@acme/widgets/-/widgets-1.0.0.tgz'])(
    'parses the scoped tarball %s',
    (path) => {
      expect(parseRegistryPath(path)).toEqual({
        kind: 'tarball',
        name: '@acme/widgets',
        filename: 'widgets-1.0.0.tgz',
        version: '1.0.0',
      });
    },
  );

  it('parses a scoped tarball requested with the scope in the file path', () => {
    expect(parseRegistryPath('/@acme/widgets/-/@acme/widgets-2.0.0-rc.1.tgz')).toEqual({
      kind: 'tarball',
      name: '@acme/widgets',
      filename: 'widgets-2.0.0-rc.1.tgz',
      version: '2.0.0-rc.1',
    });
  });

  it('keeps the filename but leaves version undefined for a tarball of another package', () => {
    expect(parseRegistryPath('/left-pad/-/right-pad-1.0.0.tgz')).toEqual({
      kind: 'tarball',
      name: 'left-pad',
      filename: 'right-pad-1.0.0.tgz',
      version: undefined,
    });
  });

  it('leaves version undefined for a non-semver tarball name', () => {
    const parsed = parseRegistryPath('/left-pad/-/left-pad-latest.tgz');
    expect(parsed).toMatchObject({ kind: 'tarball', name: 'left-pad', filename: 'left-pad-latest.tgz' });
    expect(parsed && parsed.kind === 'tarball' ? parsed.version : 'not a tarball').toBeUndefined();
  });

  it('does not treat a non-.tgz file under /-/ as a tarball', () => {
    expect(parseRegistryPath('/left-pad/-/left-pad-1.0.0.zip')).toBeUndefined();
  });
});

describe('parseRegistryPath: paths that are not about a package', () => {
  it.each(['/-/ping', '/-/whoami', '/-/v1/search', '/-/npm/v1/security/advisories/bulk', '/', '', 'left-pad', '//'])(
    '%j is undefined',
    (path) => {
      expect(parseRegistryPath(path)).toBeUndefined();
    },
  );

  it.each([
    '/@acme',
    '/@acme%2f',
    '/.hidden',
    '/_private',
    '/node_modules',
    '/left%20pad',
    '/foo%2fbar',
    '/..%2f..%2fetc%2fpasswd',
  ])('%j (an invalid name) is undefined', (path) => {
    expect(parseRegistryPath(path)).toBeUndefined();
  });

  it('is undefined for paths with too many segments', () => {
    expect(parseRegistryPath('/left-pad/1.0.0/extra')).toBeUndefined();
    expect(parseRegistryPath('/left-pad/-/sub/left-pad-1.0.0.tgz')).toBeUndefined();
    expect(parseRegistryPath('/left-pad/-')).toBeUndefined();
  });
});

describe('parseRegistryPath: malformed percent-encoding', () => {
  it.each(['/@acme%2widgets', '/left-pad%', '/left-pad/%E0%A4%A', '/left-pad/-/left-pad-%zz.tgz'])('%j throws EINVALIDNAME', (path) => {
    let thrown: unknown;
    try {
      parseRegistryPath(path);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(GatekeeperError);
    expect((thrown as GatekeeperError).code).toBe('EINVALIDNAME');
    expect((thrown as GatekeeperError).status).toBe(400);
  });
});
