import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import yaml from 'js-yaml';
import { parseDuration } from '../core/duration';
import { addressEntryProblem } from '../core/address-list';

/**
 * Settings: defaults, then the YAML file named by GATEKEEPER_CONFIG, then environment
 * variables (an environment variable wins over the file). config/gatekeeper.example.yaml
 * documents every key.
 */
export interface Settings {
  port: number;
  host: string;
  dataDir: string;
  /** unset: the embedded database in `<dataDir>/db`. */
  databaseUrl?: string;
  /** The deadline of request-path database statements and lock waits (statement_timeout, lock_timeout); 0: none. */
  databaseTimeout: string;
  /** unset: the registry npm itself is configured with, read at start. */
  upstream?: string;
  allowSelfRegistration: boolean;
  requireAuth: boolean;
  maxBodySize: string;
  logLevel: string;
  /** A URL serving OSV JSON (one document or an array), imported every advisoryFeedInterval; unset: no feed. */
  advisoryFeedUrl?: string;
  /** How often the advisory feed is fetched. */
  advisoryFeedInterval: string;
  /**
   * Where advisories come from: `upstream` asks the upstream's bulk endpoint about each package
   * (and the feed, when set, adds to it); `feed` asks nothing per package: the feed (and imports)
   * are the only source, fresh while the feed was read within twice its interval.
   */
  advisorySource: 'upstream' | 'feed';
  /** Webhooks: the deadline of one delivery. */
  webhookTimeout: string;
  /** Webhooks: attempts before a delivery is marked failed. */
  webhookMaxAttempts: number;
  /** Webhooks: the delay before the first retry; it doubles per attempt (at most 1h). */
  webhookRetryBase: string;
  /** Webhooks: how often due deliveries are looked for. */
  webhookInterval: string;
  /** install.blocked events: refused installs are counted per package over this interval, then sent. */
  installBlockedInterval: string;
  /** Memory for cached packument responses. */
  cacheSize: string;
  /** Memory for stored tarballs held to be sent again (each at most an eighth of it); 0: none. */
  tarballCacheSize: string;
  /**
   * Heap growth since the last full garbage collection after which a packument build asks for
   * one (src/server/heap-reclaim.ts); 0: never.
   */
  heapReclaim: string;
  /**
   * How many packuments an install's next requests are built ahead at once: the dependencies of
   * a packument served to a client, not yet in storage (registry/prefetch.ts); 0: none.
   */
  prefetchDependencies: number;
  /** How long a copy of an upstream packument is used before the upstream is asked again. */
  upstreamMaxage: string;
  /** How often each package's advisories are asked for again. */
  advisoryRefresh: string;
  /**
   * How long a request waits for the advisory source on a package's first sight; after that
   * it is decided with what is known (the advisories rule's `unavailable` setting decides).
   */
  advisoryTimeout: string;
  /** The overall deadline of one upstream call (connect, headers and the whole body). */
  upstreamTimeout: string;
  /** The largest upstream answer accepted (a packument or a tarball). */
  upstreamMaxSize: string;
  /** On shutdown, how long readiness answers 503 while requests are still served, before draining. */
  shutdownDelay: string;
  /**
   * Background jobs (docs/operations.md): how long a claim holds without its heartbeat, the
   * bound on how long a job waits after its holder died before another instance takes it over.
   */
  jobLease: string;
  /** Background jobs: how often each instance looks for due jobs. */
  jobPoll: string;
  /** Hosts besides the upstream's own origin that may serve its tarballs (origins like https://cdn.example). */
  tarballHosts: string[];
  /** How long after publishing a publisher may still unpublish a version (admins: always). */
  unpublishWindow: string;
  /** Failed password checks one username may have per login throttle window. */
  loginMaxFailuresPerUser: number;
  /** Failed password checks one client address (IPv6: its /64) may have per window. */
  loginMaxFailuresPerAddress: number;
  /** The login throttle window: counts start at a window's first attempt and reset after it. */
  loginThrottleWindow: string;
  /**
   * Reverse proxies (load balancers) whose X-Forwarded-For is believed: addresses, CIDR subnets
   * or express's names (loopback, linklocal, uniquelocal). Empty: the peer's address is the client's.
   */
  trustProxy: string[];
  /**
   * Addresses (IPs or CIDR subnets) that may read /-/gatekeeper/metrics without credentials:
   * the connection's own address, never X-Forwarded-For. Empty (the default): admins only.
   */
  metricsAllow: string[];
  /** Requests one user may file per hour (a lockfile batch is one; auto-queued dependency requests none). */
  requestLimitPerHour: number;
  /** How long a rejected name@range can be requested again only with a new reason (0: no cooldown). */
  requestRejectionCooldown: string;
  /**
   * The URL clients and browsers reach the gatekeeper at (behind a proxy: the proxy's). The
   * web login's loginUrl and doneUrl and the IdP's redirect URI are built from it, never from
   * a request's Host header. Unset: the address it listens on.
   */
  publicUrl?: string;
  /** Whether passwords are accepted (npm's legacy login, the console's password form, Basic credentials, npm token create). */
  passwordLogin: boolean;
  /** Single sign-on (docs/sso.md): the OpenID Connect issuer; unset: SSO is off. */
  ssoIssuer?: string;
  ssoClientId?: string;
  ssoClientSecret?: string;
  /** The IdP's name on the console's button ("Sign in with <name>"). */
  ssoName: string;
  /** Scopes asked for, space-separated (openid is always among them). */
  ssoScopes: string;
  /** The ID token (or userinfo) claim that lists the user's groups. */
  ssoGroupsClaim: string;
  /** The claim our username is made from (an email's domain is dropped). */
  ssoUsernameClaim: string;
  /** IdP groups whose members get each role (the highest wins). */
  ssoAdminGroups: string[];
  ssoPublisherGroups: string[];
  ssoDeveloperGroups: string[];
  ssoReaderGroups: string[];
  /** The role of a user in no mapped group (unless such users are refused). */
  ssoDefaultRole: string;
  /** Refuse the sign-in of a user in no mapped group. */
  ssoRefuseUnmapped: boolean;
  /** How long a browser sign-in (npm web login, console) may take from start to the token. */
  ssoLoginTtl: string;
  /** Only from the config file: who may publish which private names (seeded into the database). */
  publishRules: ConfiguredPublishRule[];
  /** Only from the environment: the first admin's password. */
  adminPassword?: string;
  configFile?: string;
}

export interface ConfiguredPublishRule {
  pattern: string;
  roles?: string[];
  users?: string[];
  shadowUpstream?: boolean;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

interface SettingSpec {
  key: keyof Settings;
  env: string;
  parse: (raw: unknown, source: string) => unknown;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const asString = (raw: unknown, source: string): string => {
  if (typeof raw === 'string' && raw.trim() !== '') return raw.trim();
  if (typeof raw === 'number') return String(raw);
  throw new ConfigError(`${source} must be a non-empty string`);
};
const asPort = (raw: unknown, source: string): number => {
  const digits = typeof raw === 'number' ? Number.isInteger(raw) : typeof raw === 'string' && /^\d+$/.test(raw.trim());
  const n = digits ? Number(typeof raw === 'string' ? raw.trim() : raw) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new ConfigError(`${source} must be a port number from 0 to 65535, not '${String(raw)}'`);
  return n;
};
const asBool = (raw: unknown, source: string): boolean => {
  if (typeof raw === 'boolean') return raw;
  const text = String(raw).trim().toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  throw new ConfigError(`${source} must be true or false, not '${String(raw)}'`);
};
const asUrl =
  (protocols: string[]) =>
  (raw: unknown, source: string): string => {
    const text = asString(raw, source);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new ConfigError(`${source} must be a URL, not '${text}'`);
    }
    if (!protocols.includes(url.protocol)) throw new ConfigError(`${source} must be a ${protocols.join(' or ')} URL`);
    return text;
  };
const asSize = (raw: unknown, source: string): string => {
  const text = asString(raw, source).toLowerCase();
  // What parseSize reads (at most 12 digits), so a size taken here is not refused later, at start.
  if (!/^\d{1,12}(b|kb|mb|gb)?$/.test(text)) throw new ConfigError(`${source} must be a size like 50mb (at most 12 digits), not '${text}'`);
  return text;
};
/** One of `values`, in any case. */
const oneOfText =
  (values: readonly string[]) =>
  (raw: unknown, source: string): string => {
    const text = asString(raw, source).toLowerCase();
    if (!values.includes(text)) throw new ConfigError(`${source} must be one of ${values.join(', ')}`);
    return text;
  };
const asLevel = oneOfText(LOG_LEVELS);

const asDuration = (raw: unknown, source: string): string => {
  const text = asString(raw, source);
  try {
    parseDuration(text);
  } catch {
    throw new ConfigError(`${source} must be a duration like 72h or 3d, or 0, not '${text}'`);
  }
  return text;
};

/** A whole number from `min` to `max`, from a number or its digits. */
const asWholeNumber =
  (min: number, max: number) =>
  (raw: unknown, source: string): number => {
    const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
    const n = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new ConfigError(`${source} must be a whole number ${max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`}, not '${String(raw)}'`);
    }
    return n;
  };
const asPositiveInt = asWholeNumber(1, Number.MAX_SAFE_INTEGER);

const asCount = asWholeNumber(0, 9999);

const asWindow = (raw: unknown, source: string): string => {
  const text = asDuration(raw, source);
  if (parseDuration(text) <= 0) throw new ConfigError(`${source} must be a duration longer than 0, like 15m`);
  return text;
};

/** The longest a timer's setting may be: 24d, short of what a Node timer can wait (core/duration.ts MAX_TIMER_MS), with room for the grace a deadline adds (connection.ts READ_GRACE_MS). */
const MAX_TIMER_SETTING_MS = 24 * 86_400_000;

const atMostATimer = (text: string, source: string): string => {
  if (parseDuration(text) > MAX_TIMER_SETTING_MS) throw new ConfigError(`${source} must be at most 24d (a timer cannot wait longer), not '${text}'`);
  return text;
};

/** A window that drives a timer (a poll, a heartbeat, a flush, a deadline): above 0 and at most 24d. */
const asTimerWindow = (raw: unknown, source: string): string => atMostATimer(asWindow(raw, source), source);

/** A duration that drives a timer, 0 for none: at most 24d. */
const asTimerDuration = (raw: unknown, source: string): string => atMostATimer(asDuration(raw, source), source);

/** The advisory feed: an http(s) URL without credentials (put a token in the query if the feed needs one). */
const asFeedUrl = (raw: unknown, source: string): string => {
  const text = asUrl(['http:', 'https:'])(raw, source);
  const url = new URL(text);
  if (url.username || url.password) throw new ConfigError(`${source} must not hold credentials in the URL`);
  return url.href;
};

const asPublishRules = (raw: unknown, source: string): ConfiguredPublishRule[] => {
  if (!Array.isArray(raw)) throw new ConfigError(`${source} must be a list of {pattern, roles, users}`);
  return raw.map((entry, i) => {
    const e = entry as Record<string, unknown>;
    const where = `${source}[${i}]`;
    if (!e || typeof e !== 'object' || typeof e.pattern !== 'string') throw new ConfigError(`${where} needs a pattern (a name or @scope/*)`);
    const list = (v: unknown, key: string) => {
      if (v === undefined) return undefined;
      if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new ConfigError(`${where}.${key} must be a list of names`);
      return v as string[];
    };
    const roles = list(e.roles, 'roles');
    const users = list(e.users, 'users');
    if (!roles?.length && !users?.length) throw new ConfigError(`${where} must name at least one role or user`);
    const shadow = e.shadow_upstream ?? e.shadowUpstream;
    return { pattern: e.pattern, roles, users, shadowUpstream: shadow === true };
  });
};

const asOrigins = (raw: unknown, source: string): string[] => {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (!items) throw new ConfigError(`${source} must be a list of origins like https://cdn.example`);
  return items.map((item, i) => {
    const text = asUrl(['http:', 'https:'])(item, `${source}[${i}]`);
    const url = new URL(text);
    if (url.pathname !== '/' || url.search || url.username) throw new ConfigError(`${source}[${i}] must be an origin (scheme, host and port only), not '${text}'`);
    return url.origin;
  });
};

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * A list (or comma-separated text) of IP addresses and CIDR subnets (checked as the address
 * lists check them), and the names in `names` (lower-cased).
 */
const addressList =
  (names: readonly string[]) =>
  (raw: unknown, source: string): string[] => {
    const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
    if (!items) throw new ConfigError(`${source} must be a list of IP addresses or subnets like 10.0.0.0/8`);
    return items.map((item, i) => {
      const text = typeof item === 'string' ? item.trim() : String(item);
      if (names.includes(text.toLowerCase())) return text.toLowerCase();
      const problem = addressEntryProblem(text);
      if (problem) throw new ConfigError(`${source}[${i}] must be an IP address or a subnet like 10.0.0.0/8${names.length > 0 ? `, or one of ${names.join(', ')}` : ''}: ${problem}`);
      return text;
    });
  };

/** Trusted proxies: IP addresses, CIDR subnets or express's names. */
const asProxies = addressList(PROXY_NAMES);

/** IP addresses and CIDR subnets. */
const asAddresses = addressList([]);

/** A list (or comma-separated) of IdP group names. */
const asGroups = (raw: unknown, source: string): string[] => {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (!items || items.some((g) => typeof g !== 'string' || g.trim() === '' || g.length > 1000)) throw new ConfigError(`${source} must be a list of group names`);
  return items.map((g) => (g as string).trim());
};

const asRole = oneOfText(['admin', 'publisher', 'developer', 'reader']);
const asAdvisorySource = oneOfText(['upstream', 'feed']);

const SPECS: SettingSpec[] = [
  { key: 'port', env: 'GATEKEEPER_PORT', parse: asPort },
  { key: 'host', env: 'GATEKEEPER_HOST', parse: asString },
  { key: 'dataDir', env: 'GATEKEEPER_DATA_DIR', parse: asString },
  { key: 'databaseUrl', env: 'GATEKEEPER_DATABASE_URL', parse: asUrl(['postgres:', 'postgresql:']) },
  { key: 'databaseTimeout', env: 'GATEKEEPER_DATABASE_TIMEOUT', parse: asTimerDuration },
  { key: 'upstream', env: 'GATEKEEPER_UPSTREAM', parse: asUrl(['http:', 'https:']) },
  { key: 'allowSelfRegistration', env: 'GATEKEEPER_ALLOW_SELF_REGISTRATION', parse: asBool },
  { key: 'requireAuth', env: 'GATEKEEPER_REQUIRE_AUTH', parse: asBool },
  { key: 'maxBodySize', env: 'GATEKEEPER_MAX_BODY_SIZE', parse: asSize },
  { key: 'logLevel', env: 'GATEKEEPER_LOG_LEVEL', parse: asLevel },
  { key: 'unpublishWindow', env: 'GATEKEEPER_UNPUBLISH_WINDOW', parse: asDuration },
  { key: 'advisoryFeedUrl', env: 'GATEKEEPER_ADVISORY_FEED_URL', parse: asFeedUrl },
  { key: 'advisoryFeedInterval', env: 'GATEKEEPER_ADVISORY_FEED_INTERVAL', parse: asWindow },
  { key: 'advisorySource', env: 'GATEKEEPER_ADVISORY_SOURCE', parse: asAdvisorySource },
  { key: 'webhookTimeout', env: 'GATEKEEPER_WEBHOOK_TIMEOUT', parse: asTimerWindow },
  { key: 'webhookMaxAttempts', env: 'GATEKEEPER_WEBHOOK_MAX_ATTEMPTS', parse: asPositiveInt },
  { key: 'webhookRetryBase', env: 'GATEKEEPER_WEBHOOK_RETRY_BASE', parse: asWindow },
  { key: 'webhookInterval', env: 'GATEKEEPER_WEBHOOK_INTERVAL', parse: asWindow },
  { key: 'installBlockedInterval', env: 'GATEKEEPER_INSTALL_BLOCKED_INTERVAL', parse: asTimerWindow },
  { key: 'cacheSize', env: 'GATEKEEPER_CACHE_SIZE', parse: asSize },
  { key: 'tarballCacheSize', env: 'GATEKEEPER_TARBALL_CACHE_SIZE', parse: asSize },
  { key: 'heapReclaim', env: 'GATEKEEPER_HEAP_RECLAIM', parse: asSize },
  { key: 'prefetchDependencies', env: 'GATEKEEPER_PREFETCH_DEPENDENCIES', parse: asCount },
  { key: 'upstreamMaxage', env: 'GATEKEEPER_UPSTREAM_MAXAGE', parse: asDuration },
  { key: 'advisoryRefresh', env: 'GATEKEEPER_ADVISORY_REFRESH', parse: asDuration },
  { key: 'advisoryTimeout', env: 'GATEKEEPER_ADVISORY_TIMEOUT', parse: asTimerDuration },
  { key: 'upstreamTimeout', env: 'GATEKEEPER_UPSTREAM_TIMEOUT', parse: asTimerWindow },
  { key: 'upstreamMaxSize', env: 'GATEKEEPER_UPSTREAM_MAX_SIZE', parse: asSize },
  { key: 'tarballHosts', env: 'GATEKEEPER_TARBALL_HOSTS', parse: asOrigins },
  { key: 'shutdownDelay', env: 'GATEKEEPER_SHUTDOWN_DELAY', parse: asTimerDuration },
  { key: 'jobLease', env: 'GATEKEEPER_JOB_LEASE', parse: asTimerWindow },
  { key: 'jobPoll', env: 'GATEKEEPER_JOB_POLL', parse: asTimerWindow },
  { key: 'loginMaxFailuresPerUser', env: 'GATEKEEPER_LOGIN_MAX_FAILURES_PER_USER', parse: asPositiveInt },
  { key: 'loginMaxFailuresPerAddress', env: 'GATEKEEPER_LOGIN_MAX_FAILURES_PER_ADDRESS', parse: asPositiveInt },
  { key: 'loginThrottleWindow', env: 'GATEKEEPER_LOGIN_THROTTLE_WINDOW', parse: asWindow },
  { key: 'trustProxy', env: 'GATEKEEPER_TRUST_PROXY', parse: asProxies },
  { key: 'metricsAllow', env: 'GATEKEEPER_METRICS_ALLOW', parse: asAddresses },
  { key: 'requestLimitPerHour', env: 'GATEKEEPER_REQUEST_LIMIT_PER_HOUR', parse: asPositiveInt },
  { key: 'requestRejectionCooldown', env: 'GATEKEEPER_REQUEST_REJECTION_COOLDOWN', parse: asDuration },

  { key: 'publicUrl', env: 'GATEKEEPER_PUBLIC_URL', parse: asUrl(['http:', 'https:']) },
  { key: 'passwordLogin', env: 'GATEKEEPER_PASSWORD_LOGIN', parse: asBool },
  { key: 'ssoIssuer', env: 'GATEKEEPER_SSO_ISSUER', parse: asUrl(['http:', 'https:']) },
  { key: 'ssoClientId', env: 'GATEKEEPER_SSO_CLIENT_ID', parse: asString },
  { key: 'ssoClientSecret', env: 'GATEKEEPER_SSO_CLIENT_SECRET', parse: asString },
  { key: 'ssoName', env: 'GATEKEEPER_SSO_NAME', parse: asString },
  { key: 'ssoScopes', env: 'GATEKEEPER_SSO_SCOPES', parse: asString },
  { key: 'ssoGroupsClaim', env: 'GATEKEEPER_SSO_GROUPS_CLAIM', parse: asString },
  { key: 'ssoUsernameClaim', env: 'GATEKEEPER_SSO_USERNAME_CLAIM', parse: asString },
  { key: 'ssoAdminGroups', env: 'GATEKEEPER_SSO_ADMIN_GROUPS', parse: asGroups },
  { key: 'ssoPublisherGroups', env: 'GATEKEEPER_SSO_PUBLISHER_GROUPS', parse: asGroups },
  { key: 'ssoDeveloperGroups', env: 'GATEKEEPER_SSO_DEVELOPER_GROUPS', parse: asGroups },
  { key: 'ssoReaderGroups', env: 'GATEKEEPER_SSO_READER_GROUPS', parse: asGroups },
  { key: 'ssoDefaultRole', env: 'GATEKEEPER_SSO_DEFAULT_ROLE', parse: asRole },
  { key: 'ssoRefuseUnmapped', env: 'GATEKEEPER_SSO_REFUSE_UNMAPPED', parse: asBool },
  { key: 'ssoLoginTtl', env: 'GATEKEEPER_SSO_LOGIN_TTL', parse: asWindow },
];

/** Settings that only the file can hold (lists). */
const FILE_ONLY: Array<{ key: keyof Settings; parse: (raw: unknown, source: string) => unknown }> = [{ key: 'publishRules', parse: asPublishRules }];

export const DEFAULTS: Omit<Settings, 'dataDir'> & { dataDir: string } = {
  port: 4873,
  host: '127.0.0.1',
  dataDir: './data',
  allowSelfRegistration: false,
  requireAuth: false,
  maxBodySize: '50mb',
  logLevel: 'info',
  unpublishWindow: '72h',
  advisoryFeedInterval: '1h',
  advisorySource: 'upstream',
  webhookTimeout: '10s',
  webhookMaxAttempts: 8,
  webhookRetryBase: '30s',
  webhookInterval: '5s',
  installBlockedInterval: '5m',
  cacheSize: '256mb',
  tarballCacheSize: '64mb',
  heapReclaim: '64mb',
  prefetchDependencies: 4,
  upstreamMaxage: '2m',
  advisoryRefresh: '1h',
  advisoryTimeout: '5s',
  databaseTimeout: '10s',
  upstreamTimeout: '60s',
  upstreamMaxSize: '100mb',
  tarballHosts: [],
  shutdownDelay: '0',
  jobLease: '60s',
  jobPoll: '5s',
  loginMaxFailuresPerUser: 10,
  loginMaxFailuresPerAddress: 30,
  loginThrottleWindow: '15m',
  trustProxy: [],
  metricsAllow: [],
  requestLimitPerHour: 50,
  requestRejectionCooldown: '24h',
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
  publishRules: [],
};

/** YAML keys are the setting names in snake_case or camelCase: `data_dir` or `dataDir`. */
function fromFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = yaml.load(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read the config file ${file}: ${(err as Error).message}`);
  }
  if (parsed === undefined || parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`the config file ${file} must hold a YAML mapping`);
  const known = new Map([...SPECS, ...FILE_ONLY].map((s) => [s.key.toLowerCase(), s.key]));
  const out: Record<string, unknown> = {};
  const spelled = new Map<string, string>();
  for (const [rawKey, value] of Object.entries(parsed as Record<string, unknown>)) {
    const key = known.get(rawKey.replace(/_/g, '').toLowerCase());
    if (!key) throw new ConfigError(`the config file ${file} has an unknown key '${rawKey}'; see config/gatekeeper.example.yaml`);
    // Two spellings of one setting (require_auth and requireAuth): which one was meant is not for us to guess.
    const other = spelled.get(key);
    if (other !== undefined) throw new ConfigError(`the config file ${file} sets '${key}' twice, as '${other}' and as '${rawKey}'; keep one`);
    spelled.set(key, rawKey);
    out[key] = value;
  }
  return out;
}

export function loadSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Settings {
  const settings: Record<string, unknown> = { ...DEFAULTS };
  const configFile = env.GATEKEEPER_CONFIG ? path.resolve(cwd, env.GATEKEEPER_CONFIG) : undefined;
  if (configFile) {
    const fileValues = fromFile(configFile);
    for (const spec of [...SPECS, ...FILE_ONLY]) {
      if (fileValues[spec.key] !== undefined && fileValues[spec.key] !== null) {
        settings[spec.key] = spec.parse(fileValues[spec.key], `'${spec.key}' in ${configFile}`);
      }
    }
  }
  for (const spec of SPECS) {
    const raw = env[spec.env];
    if (raw !== undefined && raw !== '') settings[spec.key] = spec.parse(raw, spec.env);
  }
  const base = configFile ? path.dirname(configFile) : cwd;
  settings.dataDir = path.resolve(env.GATEKEEPER_DATA_DIR ? cwd : base, String(settings.dataDir));
  if (env.GATEKEEPER_ADMIN_PASSWORD) settings.adminPassword = env.GATEKEEPER_ADMIN_PASSWORD;
  settings.configFile = configFile;
  if (settings.ssoIssuer && !settings.ssoClientId) throw new ConfigError('sso_issuer is set but sso_client_id is not (GATEKEEPER_SSO_CLIENT_ID); see docs/sso.md');
  if (settings.advisorySource === 'feed' && !settings.advisoryFeedUrl) {
    throw new ConfigError('advisory_source is feed but no advisory_feed_url is set: nothing would ever tell the gatekeeper of an advisory. Set GATEKEEPER_ADVISORY_FEED_URL (docs/supply-chain.md) or use advisory_source upstream');
  }
  if (!settings.ssoIssuer && !settings.passwordLogin) throw new ConfigError('password_login is off but no sso_issuer is set: nobody could log in. Set GATEKEEPER_SSO_ISSUER (docs/sso.md) or turn password login on');
  return settings as unknown as Settings;
}

/**
 * The registry npm itself is configured with (`npm config get registry`), so no public
 * registry address is written into this project.
 */
export function npmConfiguredRegistry(env: NodeJS.ProcessEnv = process.env): string {
  const execPath = env.npm_execpath;
  const [cmd, args] = execPath && /npm-cli\.js$/.test(execPath) ? [process.execPath, [execPath]] : ['npm', []];
  const result = spawnSync(cmd, [...args, 'config', 'get', 'registry'], { encoding: 'utf8', env, timeout: 30_000 });
  const value = result.stdout?.trim().split('\n').pop()?.trim();
  if (result.status !== 0 || !value) {
    throw new ConfigError(
      `cannot read npm's configured registry (npm config get registry failed: ${result.error?.message ?? result.stderr?.trim() ?? 'no output'}); set GATEKEEPER_UPSTREAM`,
    );
  }
  return asUrl(['http:', 'https:'])(value, "npm's configured registry");
}
