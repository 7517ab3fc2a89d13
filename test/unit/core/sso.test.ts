import {
  formatTokenScope,
  groupsOf,
  isPlainClaim,
  isDemotion,
  parseTokenScope,
  roleForGroups,
  consolePathOf,
  safeConsolePath,
  scopeAllowsWrite,
  usernameFromClaims,
} from '../../../src/core/sso';

const MAPPING = { admin: ['ops'], publisher: ['release'], developer: ['eng'], reader: ['everyone'] };

describe('roles from IdP groups', () => {
  it('gives the highest mapped role, the default without a mapped group, or a refusal when so configured', () => {
    expect(roleForGroups(['eng', 'release', 'x'], MAPPING, { defaultRole: 'reader', refuseUnmapped: false })).toEqual({ kind: 'role', role: 'publisher', mapped: true, groups: ['release', 'eng'] });
    expect(roleForGroups(['ops', 'everyone'], MAPPING, { defaultRole: 'reader', refuseUnmapped: true })).toMatchObject({ kind: 'role', role: 'admin' });
    expect(roleForGroups(['sales'], MAPPING, { defaultRole: 'developer', refuseUnmapped: false })).toEqual({ kind: 'role', role: 'developer', mapped: false, groups: [] });
    expect(roleForGroups([], MAPPING, { defaultRole: 'reader', refuseUnmapped: true })).toEqual({ kind: 'refused', groups: [] });
  });

  it('reads a groups claim that is a list or one string, and ignores anything else', () => {
    expect(groupsOf(['a', 3, '', 'b'])).toEqual(['a', 'b']);
    expect(groupsOf('solo')).toEqual(['solo']);
    // Text PostgreSQL cannot store (a NUL) or with other control characters is no group.
    expect(groupsOf(['dev\u0000ops', 'line\nbreak', 'devs'])).toEqual(['devs']);
    expect(groupsOf('nul\u0000')).toEqual([]);
    expect(isPlainClaim('a@example.test', 320)).toBe(true);
    expect(isPlainClaim('a\u0000@example.test', 320)).toBe(false);
    expect(isPlainClaim('x'.repeat(321), 320)).toBe(false);
    expect(groupsOf({ a: 1 })).toEqual([]);
    expect(groupsOf(undefined)).toEqual([]);
  });

  it('knows a demotion from a promotion', () => {
    expect(isDemotion('admin', 'publisher')).toBe(true);
    expect(isDemotion('developer', 'reader')).toBe(true);
    expect(isDemotion('reader', 'admin')).toBe(false);
    expect(isDemotion('publisher', 'publisher')).toBe(false);
  });
});

describe('usernames from claims', () => {
  it('uses the claim, drops an email domain, replaces what a username cannot hold, refuses what is left empty', () => {
    expect(usernameFromClaims({ preferred_username: 'Alice' }, 'preferred_username')).toBe('alice');
    expect(usernameFromClaims({ email: 'bob.smith@example.test' }, 'email')).toBe('bob.smith');
    expect(usernameFromClaims({ preferred_username: 'Jürgen Müller' }, 'preferred_username')).toBe('j-rgen-m-ller');
    expect(usernameFromClaims({ preferred_username: '../..' }, 'preferred_username')).toBeUndefined();
    expect(usernameFromClaims({ preferred_username: 42 }, 'preferred_username')).toBeUndefined();
    expect(usernameFromClaims({}, 'preferred_username')).toBeUndefined();
  });
});

describe('where the console may return after the IdP', () => {
  it('keeps console paths only', () => {
    expect(safeConsolePath('/-/gatekeeper/ui/packages/x?version=1.0.0')).toBe('/-/gatekeeper/ui/packages/x?version=1.0.0');
    for (const bad of ['https://evil.example/', '//evil.example', '/-/gatekeeper/ui//evil.example', '/-/gatekeeper/ui/../../x', '/-/gatekeeper/ui/\\evil', '/-/gatekeeper/ui/\u2713', '/-/gatekeeper/ui/caf\u00e9', '/-/gatekeeper/ui/a b', '/other', 5, undefined, `/-/gatekeeper/ui/${'a'.repeat(600)}`]) {
      expect(safeConsolePath(bad)).toBe('/-/gatekeeper/ui/');
    }
  });

  it('keeps the console\'s own encoded paths: a scoped name, a query, a fragment', () => {
    for (const good of ['/-/gatekeeper/ui/', '/-/gatekeeper/ui/packages/@scope%2Fname?version=1.0.0', '/-/gatekeeper/ui/audit?action=ban.create&since=2024-01-01', '/-/gatekeeper/ui/requests/7#checks', '/-/gatekeeper/ui/packages/a.b..c']) {
      expect(safeConsolePath(good)).toBe(good);
      expect(consolePathOf(good)).toBe(good);
    }
  });

  it('refuses dot segments however they are encoded, encoded slashes and backslashes that hide one, and encodings of encodings', () => {
    const bad = [
      '/-/gatekeeper/ui/%2e%2e/%2e%2e/%2e%2e/-/v1/search',
      '/-/gatekeeper/ui/%2E%2E/%2E%2E/-/whoami',
      '/-/gatekeeper/ui/.%2e/x',
      '/-/gatekeeper/ui/%2e./x',
      '/-/gatekeeper/ui/%2e',
      '/-/gatekeeper/ui/.',
      '/-/gatekeeper/ui/..',
      '/-/gatekeeper/ui/./packages',
      '/-/gatekeeper/ui/..%2f..%2f..%2f-%2fwhoami',
      '/-/gatekeeper/ui/..%2F..%2F-/whoami',
      '/-/gatekeeper/ui/packages%2f..%2f..%2f..',
      '/-/gatekeeper/ui/%5c%5cevil.example',
      '/-/gatekeeper/ui/..%5c..%5c-%5cwhoami',
      '/-/gatekeeper/ui/%5C..',
      '/-/gatekeeper/ui/\\evil.example',
      '/-/gatekeeper/ui/%252e%252e/%252e%252e/-/whoami',
      '/-/gatekeeper/ui/%2f%2fevil.example',
      '/-/gatekeeper/ui/%zz',
      '/-/gatekeeper/ui/?next=x\\y',
    ];
    for (const next of bad) expect({ next, kept: consolePathOf(next) }).toEqual({ next, kept: undefined });
    for (const next of bad) expect(safeConsolePath(next)).toBe('/-/gatekeeper/ui/');
  });
});

describe('token scopes', () => {
  it('parses read and publish:@scopes, and nothing else', () => {
    expect(parseTokenScope('read')).toEqual({ kind: 'read' });
    expect(parseTokenScope('publish:@acme, @tools')).toEqual({ kind: 'publish', scopes: ['@acme', '@tools'] });
    for (const bad of ['write', 'publish:', 'publish:acme', 'publish:@', 'publish:@a/b', 7]) expect(parseTokenScope(bad)).toBeUndefined();
    expect(formatTokenScope({ kind: 'publish', scopes: ['@acme', '@tools'] })).toBe('publish:@acme,@tools');
  });

  it('allows writes only within the scopes', () => {
    expect(scopeAllowsWrite(undefined, 'anything')).toBe(true);
    expect(scopeAllowsWrite({ kind: 'read' }, '@acme/x')).toBe(false);
    expect(scopeAllowsWrite({ kind: 'publish', scopes: ['@acme'] }, '@acme/x')).toBe(true);
    expect(scopeAllowsWrite({ kind: 'publish', scopes: ['@acme'] }, '@ACME/x')).toBe(true);
    expect(scopeAllowsWrite({ kind: 'publish', scopes: ['@acme'] }, '@other/x')).toBe(false);
    expect(scopeAllowsWrite({ kind: 'publish', scopes: ['@acme'] }, 'acme-x')).toBe(false);
  });
});
