/**
 * npmOptionsFor against real npmrc files in a temporary HOME and project folder.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expandEnv, nerfDartPrefixes, npmOptionsFor } from '../../../src/upstream/npm-options';
import { caught } from '../../support/assert';

const REGISTRY = 'http://127.0.0.1:4999/';
const NERF = '//127.0.0.1:4999/';

const CERT_A = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----';
const CERT_B = '-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----';

describe('npmOptionsFor', () => {
  let root: string;
  let home: string;
  let project: string;

  /** An environment with nothing but a HOME of our own. */
  const baseEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ HOME: home, ...extra });
  const write = (file: string, text: string): string => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    return file;
  };

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'npm-options-'));
    home = path.join(root, 'home');
    project = path.join(root, 'project');
    fs.mkdirSync(home);
    fs.mkdirSync(project);
    // A package.json makes this folder npm's project folder (nothing above it is looked at).
    write(path.join(project, 'package.json'), '{}');
  });

  afterEach(() => {
    fs.chmodSync(root, 0o700);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('reads the token for the registry from ~/.npmrc, and nothing for other hosts', () => {
    write(
      path.join(home, '.npmrc'),
      [
        `${NERF}:_authToken=the-token`,
        '//127.0.0.1:5000/:_authToken=other-port-token',
        '//other.example/:_authToken=other-host-token',
        '//127.0.0.1:4999/private/:_authToken=deeper-path-token',
        '_authToken=unscoped-token',
        'fund=false',
      ].join('\n'),
    );
    expect(npmOptionsFor(REGISTRY, baseEnv(), project)).toEqual({ [`${NERF}:_authToken`]: 'the-token' });
  });

  it('finds the user config through NPM_CONFIG_USERCONFIG in any case, and expands ${VAR} as npm does', () => {
    const file = write(
      path.join(root, 'elsewhere', 'npmrc'),
      [`${NERF}:_authToken=\${UPSTREAM_TOKEN}`, '//127.0.0.1:4999/:username=${WHO?}', '//127.0.0.1:4999/:_password=\\${LITERAL}', 'user-agent=gk/${MISSING}'].join('\n'),
    );
    const env = { UPSTREAM_TOKEN: 'from-env', WHO: 'alice' };
    const expected = {
      [`${NERF}:_authToken`]: 'from-env',
      [`${NERF}:username`]: 'alice',
      [`${NERF}:_password`]: '${LITERAL}',
      userAgent: 'gk/${MISSING}',
    };
    expect(npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_USERCONFIG: file, ...env }), project)).toEqual(expected);
    expect(npmOptionsFor(REGISTRY, baseEnv({ npm_config_userconfig: file, ...env }), project)).toEqual(expected);
    expect(npmOptionsFor(REGISTRY, baseEnv({ Npm_Config_UserConfig: file, ...env }), project)).toEqual(expected);
    // ${VAR?} of an unset variable is empty; ${VAR} of an unset one stays as written.
    expect(npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_USERCONFIG: file }), project)).toMatchObject({
      [`${NERF}:_authToken`]: '${UPSTREAM_TOKEN}',
    });
    expect(npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_USERCONFIG: file }), project)).not.toHaveProperty(`${NERF}:username`);
    // Keys are expanded too.
    write(file, '//${UPSTREAM_HOST}/:_authToken=keyed');
    expect(npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_USERCONFIG: file, UPSTREAM_HOST: '127.0.0.1:4999' }), project)).toEqual({ [`${NERF}:_authToken`]: 'keyed' });
  });

  it('keeps credentials of the shorter prefixes npm walks up through, and all six credential fields', () => {
    const registry = 'https://registry.example/npm/virtual/';
    write(
      path.join(home, '.npmrc'),
      [
        '//registry.example/npm/virtual/:_auth=dXNlcjpwYXNz',
        '//registry.example/npm/:_authToken=prefix-token',
        '//registry.example/:username=bob',
        '//registry.example/:_password=cGFzcw==',
        '//registry.example/npm/virtual/:certfile=certs/client.pem',
        '//registry.example/npm/virtual/:keyfile=/abs/client.key',
        '//registry.example/npm/virtual-other/:_authToken=sibling',
        '//registry.example/npm/virtual/deeper/:_authToken=deeper',
      ].join('\n'),
    );
    expect(npmOptionsFor(registry, baseEnv(), project)).toEqual({
      '//registry.example/npm/virtual/:_auth': 'dXNlcjpwYXNz',
      '//registry.example/npm/:_authToken': 'prefix-token',
      '//registry.example/:username': 'bob',
      '//registry.example/:_password': 'cGFzcw==',
      '//registry.example/npm/virtual/:certfile': path.join(project, 'certs/client.pem'),
      '//registry.example/npm/virtual/:keyfile': '/abs/client.key',
    });
    expect(nerfDartPrefixes(registry)).toEqual([
      '//registry.example/npm/virtual/',
      '//registry.example/npm/virtual',
      '//registry.example/npm/',
      '//registry.example/npm',
      '//registry.example/',
      '//registry.example',
    ]);
    // The default port is not part of the nerf dart; credentials in the URL are not either.
    expect(nerfDartPrefixes('https://u:p@registry.example:443')[0]).toBe('//registry.example/');
  });

  it('maps proxy, CA, client certificate, strict-ssl and user-agent to the client option names', () => {
    write(
      path.join(home, '.npmrc'),
      [
        'proxy=http://proxy.example:3128/',
        'https-proxy=http://secure-proxy.example:3128/',
        'noproxy[]=internal.example',
        'noproxy[]=.corp.example',
        `ca[]="${CERT_A.replace(/\n/g, '\\n')}"`,
        'cert="-----BEGIN CERTIFICATE-----\\nCCCC\\n-----END CERTIFICATE-----"',
        'key="-----BEGIN PRIVATE KEY-----\\nKKKK\\n-----END PRIVATE KEY-----"',
        'strict-ssl=false',
        'user-agent=gatekeeper node/{node-version} {platform} {npm-version}',
        'registry=http://ignored.example/',
        'cache=/somewhere',
      ].join('\n'),
    );
    expect(npmOptionsFor(REGISTRY, baseEnv(), project)).toEqual({
      proxy: 'http://proxy.example:3128/',
      httpsProxy: 'http://secure-proxy.example:3128/',
      noProxy: 'internal.example,.corp.example',
      ca: [CERT_A],
      cert: '-----BEGIN CERTIFICATE-----\nCCCC\n-----END CERTIFICATE-----',
      key: '-----BEGIN PRIVATE KEY-----\nKKKK\n-----END PRIVATE KEY-----',
      strictSSL: false,
      userAgent: `gatekeeper node/${process.version} ${process.platform}`,
    });
  });

  it('reads cafile into ca (one entry per certificate), resolving ~/ against HOME; cafile wins over ca', () => {
    write(path.join(home, 'certs', 'corp.pem'), `${CERT_A}\r\n\r\n${CERT_B}\n`);
    write(path.join(home, '.npmrc'), ['cafile=~/certs/corp.pem', 'ca=ignored-when-cafile-is-set'].join('\n'));
    expect(npmOptionsFor(REGISTRY, baseEnv(), project)).toEqual({ ca: [CERT_A, CERT_B] });
    // A relative cafile is relative to the working folder.
    write(path.join(project, 'ca.pem'), CERT_B);
    expect(npmOptionsFor(REGISTRY, baseEnv({ npm_config_cafile: 'ca.pem' }), project)).toEqual({ ca: [CERT_B] });
  });

  it('lets npm_config_* variables win over the files, keeping nerf-darted keys as written', () => {
    const globalFile = write(path.join(root, 'etc', 'npmrc'), ['proxy=http://global-proxy.example/', 'strict-ssl=false', `${NERF}:_authToken=global-token`].join('\n'));
    write(path.join(home, '.npmrc'), ['proxy=http://user-proxy.example/', `${NERF}:_authToken=user-token`].join('\n'));
    // The global config is read only when it is named; the user config beats it.
    expect(npmOptionsFor(REGISTRY, baseEnv(), project)).toEqual({ proxy: 'http://user-proxy.example/', [`${NERF}:_authToken`]: 'user-token' });
    expect(npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_GLOBALCONFIG: globalFile }), project)).toEqual({
      proxy: 'http://user-proxy.example/',
      strictSSL: false,
      [`${NERF}:_authToken`]: 'user-token',
    });
    const env = baseEnv({
      npm_config_globalconfig: globalFile,
      NPM_CONFIG_PROXY: 'http://env-proxy.example/',
      npm_config_https_proxy: 'http://env-https-proxy.example/',
      NPM_CONFIG_STRICT_SSL: 'true',
      npm_config_noproxy: 'a.example,b.example',
      [`npm_config_${NERF}:_authToken`]: 'env-token',
      npm_config_user_agent: '',
    });
    expect(npmOptionsFor(REGISTRY, env, project)).toEqual({
      proxy: 'http://env-proxy.example/',
      httpsProxy: 'http://env-https-proxy.example/',
      noProxy: 'a.example,b.example',
      strictSSL: true,
      [`${NERF}:_authToken`]: 'env-token',
    });
  });

  it("does not take npm's own user agent, set for every npm script, for a setting", () => {
    const env = baseEnv({ npm_config_user_agent: 'npm/11.0.0 node/v20.0.0 linux x64 workspaces/false', npm_lifecycle_event: 'start' });
    expect(npmOptionsFor(REGISTRY, env, project)).toEqual({});
    write(path.join(home, '.npmrc'), 'user-agent=corp-gatekeeper');
    expect(npmOptionsFor(REGISTRY, env, project)).toEqual({ userAgent: 'corp-gatekeeper' });
    expect(npmOptionsFor(REGISTRY, baseEnv({ npm_config_user_agent: 'set-by-hand' }), project)).toEqual({ userAgent: 'set-by-hand' });
  });

  it("reads the project's .npmrc (the nearest folder with a package.json) between the user config and the environment", () => {
    write(path.join(home, '.npmrc'), [`${NERF}:_authToken=user-token`, 'proxy=http://user-proxy.example/'].join('\n'));
    write(path.join(project, '.npmrc'), `${NERF}:_authToken=project-token`);
    const sub = path.join(project, 'src', 'deep');
    fs.mkdirSync(sub, { recursive: true });
    expect(npmOptionsFor(REGISTRY, baseEnv(), sub)).toEqual({ proxy: 'http://user-proxy.example/', [`${NERF}:_authToken`]: 'project-token' });
    expect(npmOptionsFor(REGISTRY, baseEnv({ [`NPM_CONFIG_${NERF}:_authToken`]: 'env-token' }), sub)).toMatchObject({ [`${NERF}:_authToken`]: 'env-token' });
  });

  it('answers nothing when there are no config files', () => {
    expect(npmOptionsFor(REGISTRY, baseEnv(), project)).toEqual({});
    expect(npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_USERCONFIG: path.join(root, 'no', 'such', 'npmrc'), NPM_CONFIG_GLOBALCONFIG: path.join(root, 'nope') }), project)).toEqual({});
  });

  it('refuses a config file or cafile it cannot read, without naming any value', () => {
    write(path.join(home, '.npmrc'), `${NERF}:_authToken=secret-token\ncafile=${path.join(root, 'missing.pem')}`);
    let err = caught(() => npmOptionsFor(REGISTRY, baseEnv(), project));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toBe(`npm's cafile ${path.join(root, 'missing.pem')} cannot be read (ENOENT), so the upstream's certificate cannot be checked against it. Fix the cafile setting in npm's configuration.`);

    const dir = path.join(root, 'a-directory');
    fs.mkdirSync(dir);
    err = caught(() => npmOptionsFor(REGISTRY, baseEnv({ NPM_CONFIG_USERCONFIG: dir }), project));
    expect(err.code).toBe('EVALIDATION');
    expect(err.message).toMatch(/^npm's user config file .*a-directory cannot be read \(EISDIR\), so .*\. Make it a file the gatekeeper can read, or point NPM_CONFIG_USERCONFIG elsewhere\.$/);
    expect(err.message).not.toContain('secret-token');
  });
});

describe('expandEnv', () => {
  it("follows npm's env-replace rules", () => {
    const env = { A: 'x' };
    expect(expandEnv('${A}-${B}-${B?}-\\${A}-\\\\${A}', env)).toBe('x-${B}--${A}-\\x');
  });
});
