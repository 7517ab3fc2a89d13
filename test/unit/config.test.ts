import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, DEFAULTS, loadSettings } from '../../src/server/config';

let root: string;

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gatekeeper-config-'));
});

afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** A fresh directory for one test, with an optional config file in a `conf` subdirectory. */
function workspace(yamlText?: string, fileName = 'gatekeeper.yaml'): { cwd: string; confDir: string; file: string } {
  const cwd = fs.mkdtempSync(path.join(root, 'ws-'));
  const confDir = path.join(cwd, 'conf');
  fs.mkdirSync(confDir);
  const file = path.join(confDir, fileName);
  if (yamlText !== undefined) fs.writeFileSync(file, yamlText);
  return { cwd, confDir, file };
}

/** Runs fn and returns the ConfigError it throws (fails the test otherwise). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).name).toBe('ConfigError');
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError, but nothing was thrown');
}

/** Webhooks, install.blocked and the advisory feed (docs/supply-chain.md): no feed by default. */
const WEBHOOK_DEFAULTS = {
  advisoryFeedInterval: '1h',
  advisorySource: 'upstream',
  webhookTimeout: '10s',
  webhookMaxAttempts: 8,
  webhookRetryBase: '30s',
  webhookInterval: '5s',
  installBlockedInterval: '5m',
};

/** Single sign-on's defaults (SSO off, passwords on; docs/sso.md). */
const SSO_DEFAULTS = {
  passwordLogin: true,
  ssoName: 'SSO',
  ssoScopes: 'openid profile email',
  ssoGroupsClaim: 'groups',
  ssoUsernameClaim: 'preferred_username',
  ssoAdminGroups: [],
  ssoPublisherGroups: [],
  ssoDeveloperGroups: [],
  ssoReaderGroups: [],
  ssoDefaultRole: 'reader',
  ssoRefuseUnmapped: false,
  ssoLoginTtl: '10m',
};

describe('loadSettings: single sign-on', () => {
  it('reads the SSO settings from the environment and the file', () => {
    const { cwd } = workspace();
    expect(
      loadSettings(
        {
          GATEKEEPER_PUBLIC_URL: 'https://npm.example.test/',
          GATEKEEPER_SSO_ISSUER: 'https://idp.example.test/realms/acme',
          GATEKEEPER_SSO_CLIENT_ID: 'gk',
          GATEKEEPER_SSO_CLIENT_SECRET: 'secret',
          GATEKEEPER_SSO_NAME: 'Acme SSO',
          GATEKEEPER_SSO_SCOPES: 'openid groups',
          GATEKEEPER_SSO_GROUPS_CLAIM: 'roles',
          GATEKEEPER_SSO_USERNAME_CLAIM: 'email',
          GATEKEEPER_SSO_ADMIN_GROUPS: 'ops, security',
          GATEKEEPER_SSO_PUBLISHER_GROUPS: 'release',
          GATEKEEPER_SSO_DEVELOPER_GROUPS: 'eng',
          GATEKEEPER_SSO_READER_GROUPS: 'everyone',
          GATEKEEPER_SSO_DEFAULT_ROLE: 'Developer',
          GATEKEEPER_SSO_REFUSE_UNMAPPED: 'yes',
          GATEKEEPER_SSO_LOGIN_TTL: '5m',
          GATEKEEPER_PASSWORD_LOGIN: 'false',
        },
        cwd,
      ),
    ).toMatchObject({
      publicUrl: 'https://npm.example.test/',
      ssoIssuer: 'https://idp.example.test/realms/acme',
      ssoClientId: 'gk',
      ssoClientSecret: 'secret',
      ssoName: 'Acme SSO',
      ssoScopes: 'openid groups',
      ssoGroupsClaim: 'roles',
      ssoUsernameClaim: 'email',
      ssoAdminGroups: ['ops', 'security'],
      ssoPublisherGroups: ['release'],
      ssoDeveloperGroups: ['eng'],
      ssoReaderGroups: ['everyone'],
      ssoDefaultRole: 'developer',
      ssoRefuseUnmapped: true,
      ssoLoginTtl: '5m',
      passwordLogin: false,
    });
    const file = path.join(cwd, 'sso.yaml');
    fs.writeFileSync(file, ['sso_issuer: https://idp.example.test/', 'sso_client_id: gk', 'sso_admin_groups: [ops]', 'sso_refuse_unmapped: true'].join('\n'));
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).toMatchObject({ ssoIssuer: 'https://idp.example.test/', ssoClientId: 'gk', ssoAdminGroups: ['ops'], ssoRefuseUnmapped: true });
  });

  it('refuses an issuer without a client id, a role that is none of ours, and password login off without SSO', () => {
    const { cwd } = workspace();
    expect(() => loadSettings({ GATEKEEPER_SSO_ISSUER: 'https://idp.example.test/' }, cwd)).toThrow(/sso_client_id/);
    expect(() => loadSettings({ GATEKEEPER_SSO_DEFAULT_ROLE: 'owner' }, cwd)).toThrow(/admin, publisher, developer, reader/);
    expect(() => loadSettings({ GATEKEEPER_PASSWORD_LOGIN: 'false' }, cwd)).toThrow(/nobody could log in/);
    expect(() => loadSettings({ GATEKEEPER_SSO_ISSUER: 'ftp://idp.example.test/', GATEKEEPER_SSO_CLIENT_ID: 'gk' }, cwd)).toThrow(/http: or https:/);
  });
});

describe('loadSettings: webhooks and the advisory feed', () => {
  it('reads them from the environment and the file', () => {
    const { cwd } = workspace();
    expect(
      loadSettings(
        {
          GATEKEEPER_ADVISORY_FEED_URL: 'https://feeds.example.test/osv.json?token=t',
          GATEKEEPER_ADVISORY_FEED_INTERVAL: '15m',
          GATEKEEPER_WEBHOOK_TIMEOUT: '3s',
          GATEKEEPER_WEBHOOK_MAX_ATTEMPTS: '3',
          GATEKEEPER_WEBHOOK_RETRY_BASE: '1m',
          GATEKEEPER_WEBHOOK_INTERVAL: '2s',
          GATEKEEPER_INSTALL_BLOCKED_INTERVAL: '1m',
        },
        cwd,
      ),
    ).toMatchObject({ advisoryFeedUrl: 'https://feeds.example.test/osv.json?token=t', advisoryFeedInterval: '15m', webhookTimeout: '3s', webhookMaxAttempts: 3, webhookRetryBase: '1m', webhookInterval: '2s', installBlockedInterval: '1m' });
    const file = path.join(cwd, 'gk.yaml');
    fs.writeFileSync(file, 'advisory_feed_url: http://127.0.0.1:9/feed.json\nwebhook_max_attempts: 5\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).toMatchObject({ advisoryFeedUrl: 'http://127.0.0.1:9/feed.json', webhookMaxAttempts: 5 });
  });

  it.each([
    ['GATEKEEPER_ADVISORY_FEED_URL', 'ftp://feeds.example.test/osv.json'],
    ['GATEKEEPER_ADVISORY_FEED_URL', 'https://user:pw@feeds.example.test/osv.json'],
    ['GATEKEEPER_ADVISORY_FEED_INTERVAL', '0'],
    ['GATEKEEPER_WEBHOOK_MAX_ATTEMPTS', '0'],
    ['GATEKEEPER_WEBHOOK_TIMEOUT', 'soon'],
    ['GATEKEEPER_ADVISORY_SOURCE', 'osv'],
  ])('%s=%s is a ConfigError', (key, value) => {
    const { cwd } = workspace();
    expect(() => loadSettings({ [key]: value }, cwd)).toThrow(ConfigError);
  });

  it('takes the feed as the only advisory source only with a feed to read', () => {
    const { cwd } = workspace();
    expect(loadSettings({}, cwd).advisorySource).toBe('upstream');
    expect(() => loadSettings({ GATEKEEPER_ADVISORY_SOURCE: 'feed' }, cwd)).toThrow(/advisory_source is feed but no advisory_feed_url is set.*Set GATEKEEPER_ADVISORY_FEED_URL/);
    expect(loadSettings({ GATEKEEPER_ADVISORY_SOURCE: 'Feed', GATEKEEPER_ADVISORY_FEED_URL: 'https://feeds.example.test/osv.json' }, cwd)).toMatchObject({ advisorySource: 'feed' });
    const file = path.join(cwd, 'gk.yaml');
    fs.writeFileSync(file, 'advisory_source: feed\nadvisory_feed_url: http://127.0.0.1:9/feed.json\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).toMatchObject({ advisorySource: 'feed', advisoryFeedUrl: 'http://127.0.0.1:9/feed.json' });
  });
});

/**
 * What loadSettings gives with nothing set, written out here rather than read from DEFAULTS (a
 * test against DEFAULTS itself could not fail); dataDir is resolved against the working directory.
 */
const EXPECTED_DEFAULTS = {
  port: 4873,
  host: '127.0.0.1',
  allowSelfRegistration: false,
  requireAuth: false,
  maxBodySize: '50mb',
  logLevel: 'info',
  cacheSize: '256mb',
  tarballCacheSize: '64mb',
  heapReclaim: '64mb',
  prefetchDependencies: 4,
  upstreamMaxage: '2m',
  advisoryRefresh: '1h',
  advisoryTimeout: '5s',
  databaseTimeout: '10s',
  unpublishWindow: '72h',
  loginMaxFailuresPerUser: 10,
  loginMaxFailuresPerAddress: 30,
  loginThrottleWindow: '15m',
  trustProxy: [],
  metricsAllow: [],
  requestLimitPerHour: 50,
  requestRejectionCooldown: '24h',
  ...SSO_DEFAULTS,
  ...WEBHOOK_DEFAULTS,
  upstreamTimeout: '60s',
  upstreamMaxSize: '100mb',
  tarballHosts: [],
  shutdownDelay: '0',
  jobLease: '60s',
  jobPoll: '5s',
  publishRules: [],
};

describe('loadSettings: defaults', () => {
  it('uses the defaults with an empty environment', () => {
    const { cwd } = workspace();
    const settings = loadSettings({}, cwd);
    expect(settings).toEqual({ ...EXPECTED_DEFAULTS, dataDir: path.join(cwd, 'data') });
    expect(settings.configFile).toBeUndefined();
    expect(settings.databaseUrl).toBeUndefined();
    expect(settings.upstream).toBeUndefined();
    expect(settings.adminPassword).toBeUndefined();
  });

  it('does not modify DEFAULTS', () => {
    const before = { ...DEFAULTS };
    const { cwd } = workspace();
    loadSettings({ GATEKEEPER_PORT: '9999', GATEKEEPER_DATA_DIR: 'elsewhere' }, cwd);
    expect(DEFAULTS).toEqual(before);
  });

  it('ignores empty environment variables', () => {
    const { cwd } = workspace();
    const settings = loadSettings({ GATEKEEPER_PORT: '', GATEKEEPER_LOG_LEVEL: '', GATEKEEPER_UPSTREAM: '', GATEKEEPER_CONFIG: '' }, cwd);
    expect(settings.port).toBe(4873);
    expect(settings.logLevel).toBe('info');
    expect(settings.upstream).toBeUndefined();
    expect(settings.configFile).toBeUndefined();
  });
});

describe('loadSettings: upstream limits and tarball hosts', () => {
  it('reads the deadline, the size limit and the tarball hosts, as origins', () => {
    const { cwd } = workspace();
    const settings = loadSettings(
      { GATEKEEPER_UPSTREAM_TIMEOUT: '30s', GATEKEEPER_UPSTREAM_MAX_SIZE: '20MB', GATEKEEPER_TARBALL_HOSTS: 'https://cdn.example.test, http://127.0.0.1:9/' },
      cwd,
    );
    expect(settings).toMatchObject({ upstreamTimeout: '30s', upstreamMaxSize: '20mb', tarballHosts: ['https://cdn.example.test', 'http://127.0.0.1:9'] });
  });

  it('reads the request limit and the rejection cooldown', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_REQUEST_LIMIT_PER_HOUR: '5', GATEKEEPER_REQUEST_REJECTION_COOLDOWN: '0' }, cwd)).toMatchObject({ requestLimitPerHour: 5, requestRejectionCooldown: '0' });
    const { cwd: fileCwd, file } = workspace('request_limit_per_hour: 200\nrequest_rejection_cooldown: 3d\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, fileCwd)).toMatchObject({ requestLimitPerHour: 200, requestRejectionCooldown: '3d' });
    for (const bad of ['0', '-1', 'lots']) expect(() => loadSettings({ GATEKEEPER_REQUEST_LIMIT_PER_HOUR: bad }, cwd)).toThrow('GATEKEEPER_REQUEST_LIMIT_PER_HOUR');
    expect(() => loadSettings({ GATEKEEPER_REQUEST_REJECTION_COOLDOWN: 'forever' }, cwd)).toThrow('GATEKEEPER_REQUEST_REJECTION_COOLDOWN');
  });

  it('reads the tarball cache size and the advisory wait', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_TARBALL_CACHE_SIZE: '16MB', GATEKEEPER_ADVISORY_TIMEOUT: '3s' }, cwd)).toMatchObject({ tarballCacheSize: '16mb', advisoryTimeout: '3s' });
    expect(loadSettings({ GATEKEEPER_TARBALL_CACHE_SIZE: '0', GATEKEEPER_ADVISORY_TIMEOUT: '0' }, cwd)).toMatchObject({ tarballCacheSize: '0', advisoryTimeout: '0' });
    const { cwd: fileCwd, file } = workspace('tarball_cache_size: 8mb\nadvisory_timeout: 2s\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, fileCwd)).toMatchObject({ tarballCacheSize: '8mb', advisoryTimeout: '2s' });
  });

  it('reads the heap growth that asks for a full collection; 0 turns it off', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_HEAP_RECLAIM: '128MB' }, cwd)).toMatchObject({ heapReclaim: '128mb' });
    expect(loadSettings({ GATEKEEPER_HEAP_RECLAIM: '0' }, cwd)).toMatchObject({ heapReclaim: '0' });
    const { cwd: fileCwd, file } = workspace('heap_reclaim: 32mb\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, fileCwd)).toMatchObject({ heapReclaim: '32mb' });
    // The example configuration states the default.
    expect(loadSettings({ GATEKEEPER_CONFIG: path.resolve(__dirname, '../../config/gatekeeper.example.yaml') }, cwd)).toMatchObject({ heapReclaim: '64mb' });
    expect(() => loadSettings({ GATEKEEPER_HEAP_RECLAIM: 'lots' }, cwd)).toThrow('GATEKEEPER_HEAP_RECLAIM');
  });

  it('reads how many packuments are warmed ahead at once; 0 turns it off', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_PREFETCH_DEPENDENCIES: '8' }, cwd)).toMatchObject({ prefetchDependencies: 8 });
    expect(loadSettings({ GATEKEEPER_PREFETCH_DEPENDENCIES: '0' }, cwd)).toMatchObject({ prefetchDependencies: 0 });
    const { cwd: fileCwd, file } = workspace('prefetch_dependencies: 2\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, fileCwd)).toMatchObject({ prefetchDependencies: 2 });
    expect(loadSettings({ GATEKEEPER_CONFIG: path.resolve(__dirname, '../../config/gatekeeper.example.yaml') }, cwd)).toMatchObject({ prefetchDependencies: 4 });
    for (const bad of ['-1', 'many', '1.5', '10000']) expect(() => loadSettings({ GATEKEEPER_PREFETCH_DEPENDENCIES: bad }, cwd)).toThrow('GATEKEEPER_PREFETCH_DEPENDENCIES');
  });

  it('reads the background job lease and poll interval, which must be longer than 0', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_JOB_LEASE: '2m', GATEKEEPER_JOB_POLL: '10s' }, cwd)).toMatchObject({ jobLease: '2m', jobPoll: '10s' });
    const { cwd: fileCwd, file } = workspace('job_lease: 30s\njob_poll: 1s\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, fileCwd)).toMatchObject({ jobLease: '30s', jobPoll: '1s' });
    // The example configuration states the defaults.
    expect(loadSettings({ GATEKEEPER_CONFIG: path.resolve(__dirname, '../../config/gatekeeper.example.yaml') }, cwd)).toMatchObject({ jobLease: '60s', jobPoll: '5s' });
    for (const bad of ['0', 'soon']) {
      expect(() => loadSettings({ GATEKEEPER_JOB_LEASE: bad }, cwd)).toThrow('GATEKEEPER_JOB_LEASE');
      expect(() => loadSettings({ GATEKEEPER_JOB_POLL: bad }, cwd)).toThrow('GATEKEEPER_JOB_POLL');
    }
  });

  it('refuses timer settings beyond what a Node timer can wait (24d), which would fire every millisecond', () => {
    const { cwd } = workspace();
    for (const key of [
      'GATEKEEPER_JOB_LEASE',
      'GATEKEEPER_JOB_POLL',
      'GATEKEEPER_WEBHOOK_TIMEOUT',
      'GATEKEEPER_INSTALL_BLOCKED_INTERVAL',
      // Deadlines and delays: accepted beyond it, they fired at once (every upstream call a 504, no shutdown delay, no wait for advisories).
      'GATEKEEPER_UPSTREAM_TIMEOUT',
      'GATEKEEPER_DATABASE_TIMEOUT',
      'GATEKEEPER_ADVISORY_TIMEOUT',
      'GATEKEEPER_SHUTDOWN_DELAY',
    ]) {
      for (const bad of ['25d', '4w', '999999w']) expect(configError(() => loadSettings({ [key]: bad }, cwd)).message).toMatch(new RegExp(`${key}.*at most 24d`));
      expect(() => loadSettings({ [key]: '24d' }, cwd)).not.toThrow();
    }
    // 0 (none) stays allowed where it was.
    expect(loadSettings({ GATEKEEPER_DATABASE_TIMEOUT: '0', GATEKEEPER_SHUTDOWN_DELAY: '0' }, cwd)).toMatchObject({ databaseTimeout: '0', shutdownDelay: '0' });
    // Intervals kept in the database (not in a timer) may be longer.
    expect(loadSettings({ GATEKEEPER_ADVISORY_FEED_INTERVAL: '5w', GATEKEEPER_WEBHOOK_RETRY_BASE: '5w' }, cwd)).toMatchObject({ advisoryFeedInterval: '5w', webhookRetryBase: '5w' });
  });

  it('reads the trusted proxies: addresses, subnets and express names, from the environment or the file', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_TRUST_PROXY: ' 10.0.0.0/8, 192.0.2.7 ,fd00::/8, Loopback' }, cwd).trustProxy).toEqual(['10.0.0.0/8', '192.0.2.7', 'fd00::/8', 'loopback']);
    const { cwd: fileCwd, file } = workspace('trust_proxy:\n  - 172.16.0.0/12\n  - uniquelocal\n');
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, fileCwd).trustProxy).toEqual(['172.16.0.0/12', 'uniquelocal']);
    for (const bad of ['proxy.example.test', '10.0.0.0/33', '10.0.0.1/8/1', '*', '::1/129']) {
      expect(configError(() => loadSettings({ GATEKEEPER_TRUST_PROXY: bad }, cwd)).message).toContain('GATEKEEPER_TRUST_PROXY');
    }
  });

  it.each([
    ['GATEKEEPER_TARBALL_CACHE_SIZE', 'plenty'],
    ['GATEKEEPER_ADVISORY_TIMEOUT', 'soon'],
    ['GATEKEEPER_TARBALL_HOSTS', 'https://cdn.example.test/path'],
    ['GATEKEEPER_TARBALL_HOSTS', 'ftp://cdn.example.test'],
    ['GATEKEEPER_TARBALL_HOSTS', 'https://user:pw@cdn.example.test'],
    ['GATEKEEPER_UPSTREAM_TIMEOUT', '0'],
    ['GATEKEEPER_UPSTREAM_MAX_SIZE', 'lots'],
  ])('refuses %s=%s with a ConfigError naming it', (key, value) => {
    const { cwd } = workspace();
    expect(configError(() => loadSettings({ [key]: value }, cwd)).message).toContain(key);
  });
});

describe('loadSettings: environment', () => {
  it('reads every setting from the environment', () => {
    const { cwd } = workspace();
    const settings = loadSettings(
      {
        GATEKEEPER_PORT: '8080',
        GATEKEEPER_HOST: ' 0.0.0.0 ',
        GATEKEEPER_DATA_DIR: 'var/gk',
        GATEKEEPER_DATABASE_URL: 'postgres://gk:secret@db.internal:5432/gatekeeper',
        GATEKEEPER_UPSTREAM: 'https://upstream.example.test/npm/',
        GATEKEEPER_ALLOW_SELF_REGISTRATION: 'yes',
        GATEKEEPER_REQUIRE_AUTH: 'TRUE',
        GATEKEEPER_MAX_BODY_SIZE: '10MB',
        GATEKEEPER_LOG_LEVEL: 'Debug',
        GATEKEEPER_ADMIN_PASSWORD: 'hunter2hunter2',
      },
      cwd,
    );
    expect(settings).toEqual({
      ...EXPECTED_DEFAULTS,
      port: 8080,
      host: '0.0.0.0',
      dataDir: path.join(cwd, 'var/gk'),
      databaseUrl: 'postgres://gk:secret@db.internal:5432/gatekeeper',
      upstream: 'https://upstream.example.test/npm/',
      allowSelfRegistration: true,
      requireAuth: true,
      maxBodySize: '10mb',
      logLevel: 'debug',
      adminPassword: 'hunter2hunter2',
    });
  });

  it.each([
    ['true', true],
    ['1', true],
    ['on', true],
    ['Yes', true],
    ['false', false],
    ['0', false],
    ['off', false],
    ['NO', false],
  ])('reads boolean %j as %s', (raw, value) => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_REQUIRE_AUTH: raw }, cwd).requireAuth).toBe(value);
  });

  it('accepts port 0 and 65535', () => {
    const { cwd } = workspace();
    expect(loadSettings({ GATEKEEPER_PORT: '0' }, cwd).port).toBe(0);
    expect(loadSettings({ GATEKEEPER_PORT: '65535' }, cwd).port).toBe(65535);
  });

  it('accepts postgresql: database URLs and http: upstreams', () => {
    const { cwd } = workspace();
    const settings = loadSettings({ GATEKEEPER_DATABASE_URL: 'postgresql://localhost/gk', GATEKEEPER_UPSTREAM: 'http://127.0.0.1:9000/' }, cwd);
    expect(settings.databaseUrl).toBe('postgresql://localhost/gk');
    expect(settings.upstream).toBe('http://127.0.0.1:9000/');
  });

  it('keeps an absolute GATEKEEPER_DATA_DIR as it is', () => {
    const { cwd } = workspace();
    const abs = path.join(root, 'absolute-data');
    expect(loadSettings({ GATEKEEPER_DATA_DIR: abs }, cwd).dataDir).toBe(abs);
  });

});

describe('loadSettings: invalid environment values', () => {
  it.each([
    ['GATEKEEPER_PORT', 'http'],
    ['GATEKEEPER_PORT', '65536'],
    ['GATEKEEPER_PORT', '-1'],
    ['GATEKEEPER_PORT', '80.5'],
    ['GATEKEEPER_PORT', '8080abc'],
    ['GATEKEEPER_REQUIRE_AUTH', 'maybe'],
    ['GATEKEEPER_ALLOW_SELF_REGISTRATION', 'enabled'],
    ['GATEKEEPER_UPSTREAM', 'ftp://mirror.example.test/'],
    ['GATEKEEPER_UPSTREAM', 'not a url'],
    ['GATEKEEPER_UPSTREAM', 'postgres://db/gk'],
    ['GATEKEEPER_DATABASE_URL', 'mysql://db/gk'],
    ['GATEKEEPER_DATABASE_URL', 'https://db.example.test/'],
    ['GATEKEEPER_MAX_BODY_SIZE', 'lots'],
    ['GATEKEEPER_MAX_BODY_SIZE', '50 mb'],
    ['GATEKEEPER_MAX_BODY_SIZE', '1tb'],
    ['GATEKEEPER_LOG_LEVEL', 'verbose'],
    ['GATEKEEPER_HOST', '   '],
  ])('%s=%j throws a ConfigError naming the variable', (name, value) => {
    const { cwd } = workspace();
    const err = configError(() => loadSettings({ [name]: value }, cwd));
    expect(err.message.startsWith(`${name} must be`)).toBe(true);
  });

  it('says which protocols are allowed', () => {
    const { cwd } = workspace();
    expect(configError(() => loadSettings({ GATEKEEPER_UPSTREAM: 'ftp://x.test/' }, cwd)).message).toBe(
      'GATEKEEPER_UPSTREAM must be a http: or https: URL',
    );
    expect(configError(() => loadSettings({ GATEKEEPER_DATABASE_URL: 'mysql://x/y' }, cwd)).message).toBe(
      'GATEKEEPER_DATABASE_URL must be a postgres: or postgresql: URL',
    );
  });

  it('quotes the bad value for ports and booleans and lists log levels', () => {
    const { cwd } = workspace();
    expect(configError(() => loadSettings({ GATEKEEPER_PORT: '99999' }, cwd)).message).toContain("not '99999'");
    expect(configError(() => loadSettings({ GATEKEEPER_REQUIRE_AUTH: 'maybe' }, cwd)).message).toContain("not 'maybe'");
    expect(configError(() => loadSettings({ GATEKEEPER_LOG_LEVEL: 'loud' }, cwd)).message).toContain('fatal, error, warn, info, debug, trace, silent');
  });

  it('rejects a whitespace-only GATEKEEPER_PORT instead of listening on a random port', () => {
    // Number(' ') is 0, so asPort (src/server/config.ts:48-52) accepts ' ' as port 0.
    const { cwd } = workspace();
    configError(() => loadSettings({ GATEKEEPER_PORT: ' ' }, cwd));
  });
});

describe('loadSettings: config file', () => {
  it('reads snake_case keys', () => {
    const { cwd, file } = workspace(
      [
        'port: 5000',
        'host: 0.0.0.0',
        'data_dir: /srv/gatekeeper',
        'database_url: postgres://db/gk',
        'upstream: https://upstream.example.test/',
        'allow_self_registration: true',
        'require_auth: "yes"',
        'max_body_size: 20mb',
        'log_level: warn',
      ].join('\n'),
    );
    expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).toEqual({
      ...EXPECTED_DEFAULTS,
      port: 5000,
      host: '0.0.0.0',
      dataDir: '/srv/gatekeeper',
      databaseUrl: 'postgres://db/gk',
      upstream: 'https://upstream.example.test/',
      allowSelfRegistration: true,
      requireAuth: true,
      maxBodySize: '20mb',
      logLevel: 'warn',
      configFile: file,
    });
  });

  it('reads camelCase keys', () => {
    const { cwd, file } = workspace(
      ['port: 5001', 'dataDir: /srv/gk2', 'databaseUrl: postgresql://db/gk', 'allowSelfRegistration: false', 'requireAuth: true', 'maxBodySize: 1048576', 'logLevel: error'].join('\n'),
    );
    const settings = loadSettings({ GATEKEEPER_CONFIG: file }, cwd);
    expect(settings.port).toBe(5001);
    expect(settings.dataDir).toBe('/srv/gk2');
    expect(settings.databaseUrl).toBe('postgresql://db/gk');
    expect(settings.allowSelfRegistration).toBe(false);
    expect(settings.requireAuth).toBe(true);
    expect(settings.maxBodySize).toBe('1048576');
    expect(settings.logLevel).toBe('error');
    expect(settings.host).toBe('127.0.0.1');
  });

  it('resolves a relative GATEKEEPER_CONFIG against cwd and reports the absolute path', () => {
    const { cwd, file } = workspace('port: 5002\n');
    const settings = loadSettings({ GATEKEEPER_CONFIG: path.join('conf', 'gatekeeper.yaml') }, cwd);
    expect(settings.port).toBe(5002);
    expect(settings.configFile).toBe(file);
  });

  it('treats an empty file and null values as "not set"', () => {
    const empty = workspace('');
    expect(loadSettings({ GATEKEEPER_CONFIG: empty.file }, empty.cwd).port).toBe(4873);
    const nulls = workspace('port:\nlog_level: ~\n');
    const settings = loadSettings({ GATEKEEPER_CONFIG: nulls.file }, nulls.cwd);
    expect(settings.port).toBe(4873);
    expect(settings.logLevel).toBe('info');
  });

  it('lets the environment win over the file', () => {
    const { cwd, file } = workspace('port: 5003\nlog_level: warn\nrequire_auth: true\nhost: 10.0.0.1\n');
    const settings = loadSettings(
      { GATEKEEPER_CONFIG: file, GATEKEEPER_PORT: '6000', GATEKEEPER_LOG_LEVEL: 'trace', GATEKEEPER_REQUIRE_AUTH: 'false' },
      cwd,
    );
    expect(settings.port).toBe(6000);
    expect(settings.logLevel).toBe('trace');
    expect(settings.requireAuth).toBe(false);
    // Not overridden: the file's value stays.
    expect(settings.host).toBe('10.0.0.1');
  });

  it('validates file values even when the environment overrides them', () => {
    // The file is parsed before the environment is applied, so a bad file value is an error
    // even if the environment overrides it: the file must be valid on its own.
    const { cwd, file } = workspace('port: nope\n');
    const err = configError(() => loadSettings({ GATEKEEPER_CONFIG: file, GATEKEEPER_PORT: '6000' }, cwd));
    expect(err.message).toContain("'port' in");
  });

  describe('dataDir', () => {
    it('resolves a relative data_dir against the config file directory', () => {
      const { cwd, confDir, file } = workspace('data_dir: ./state\n');
      expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd).dataDir).toBe(path.join(confDir, 'state'));
    });

    it('resolves the default ./data against the config file directory when a file is used', () => {
      const { cwd, confDir, file } = workspace('port: 5004\n');
      expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd).dataDir).toBe(path.join(confDir, 'data'));
    });

    it('resolves GATEKEEPER_DATA_DIR against cwd even when a config file is used', () => {
      const { cwd, file } = workspace('data_dir: ./state\n');
      expect(loadSettings({ GATEKEEPER_CONFIG: file, GATEKEEPER_DATA_DIR: 'from-env' }, cwd).dataDir).toBe(path.join(cwd, 'from-env'));
    });

    it('keeps an absolute data_dir', () => {
      const abs = path.join(root, 'abs-data');
      const { cwd, file } = workspace(`data_dir: ${abs}\n`);
      expect(loadSettings({ GATEKEEPER_CONFIG: file }, cwd).dataDir).toBe(abs);
    });
  });

  describe('errors', () => {
    it('rejects a missing file', () => {
      const { cwd, file } = workspace();
      const err = configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd));
      expect(err.message).toContain(`cannot read the config file ${file}`);
    });

    it('rejects invalid YAML', () => {
      const { cwd, file } = workspace('port: [5000\n');
      expect(configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).message).toContain(`cannot read the config file ${file}`);
    });

    it.each([
      ['a list', '- port\n- 5000\n'],
      ['a string', 'just some text\n'],
      ['a number', '42\n'],
    ])('rejects a file holding %s rather than a mapping', (_what, text) => {
      const { cwd, file } = workspace(text);
      expect(configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).message).toBe(
        `the config file ${file} must hold a YAML mapping`,
      );
    });

    it('rejects an unknown key and names it', () => {
      const { cwd, file } = workspace('port: 5000\nlisten_address: 0.0.0.0\n');
      const err = configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd));
      expect(err.message).toContain("unknown key 'listen_address'");
      expect(err.message).toContain(file);
    });

    it('refuses at once a size the server could not read at start (more than 12 digits)', () => {
      const { cwd } = workspace();
      expect(configError(() => loadSettings({ GATEKEEPER_CACHE_SIZE: '1234567890123' }, cwd)).message).toMatch(/GATEKEEPER_CACHE_SIZE must be a size like 50mb \(at most 12 digits\)/);
      expect(loadSettings({ GATEKEEPER_CACHE_SIZE: '123456789012' }, cwd).cacheSize).toBe('123456789012');
    });

    it('refuses one setting written twice in two spellings, naming both, instead of the last one silently winning', () => {
      const { cwd, file } = workspace('require_auth: true\nrequireAuth: false\n');
      expect(configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd)).message).toBe(`the config file ${file} sets 'requireAuth' twice, as 'require_auth' and as 'requireAuth'; keep one`);
    });

    it('does not accept the admin password or the config path from the file', () => {
      const a = workspace('admin_password: secret\n');
      expect(configError(() => loadSettings({ GATEKEEPER_CONFIG: a.file }, a.cwd)).message).toContain("unknown key 'admin_password'");
      const b = workspace('configFile: other.yaml\n');
      expect(configError(() => loadSettings({ GATEKEEPER_CONFIG: b.file }, b.cwd)).message).toContain("unknown key 'configFile'");
    });

    it.each([
      ['port: 70000', 'port'],
      ['port: http', 'port'],
      ['require_auth: sometimes', 'requireAuth'],
      ['allowSelfRegistration: 2', 'allowSelfRegistration'],
      ['upstream: ftp://mirror.example.test/', 'upstream'],
      ['database_url: https://db.example.test/', 'databaseUrl'],
      ['max_body_size: huge', 'maxBodySize'],
      ['log_level: verbose', 'logLevel'],
      ['host: ""', 'host'],
      ['data_dir: [a, b]', 'dataDir'],
    ])('%j throws a ConfigError naming the key %s and the file', (line, key) => {
      const { cwd, file } = workspace(`${line}\n`);
      const err = configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd));
      expect(err.message.startsWith(`'${key}' in ${file} must be`)).toBe(true);
    });

    it('rejects a boolean port in the file instead of reading it as port 1', () => {
      // Number(true) is 1, so asPort (src/server/config.ts:48-52) accepts `port: true` as port 1.
      const { cwd, file } = workspace('port: true\n');
      configError(() => loadSettings({ GATEKEEPER_CONFIG: file }, cwd));
    });
  });
});
