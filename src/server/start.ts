import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Application } from 'express';
import pino, { Logger } from 'pino';
import { runServer } from 'verdaccio';
import { answerAdminOptions, createAdminRouter, ADMIN_PREFIX } from '../admin/router';
import { createKnex, createMigrationKnex, Database, migrateLatest, migrationsAhead, openDatabase, redactUrl } from '../db/connection';
import { PgAdvisoryLocks } from '../db/package-lock';
import { FsPackageStorage } from '../storage/fs';
import { PackageLocks } from '../storage/locks';
import { ChannelListener } from '../db/listener';
import { POLICY_CHANNEL } from '../db/repositories/policy';
import { IDENTITY_CHANNEL } from '../db/repositories/identity-channel';
import { ADVISORY_CHANNEL } from '../db/repositories/advisories';
import { INSPECTION_CHANNEL } from '../db/repositories/inspections';
import { announcePackageChange, PACKAGE_CHANNEL } from '../db/repositories/package-channel';
import { TokenCache } from '../services/token-cache';
import { TokenUse } from '../services/token-use';
import { Store } from '../db/store';
import { AdvisoryService, upstreamAdvisorySource } from '../services/advisories';
import { AuditLog, AuditWriter } from '../services/audit';
import { GovernanceService } from '../services/governance';
import { IdentityService } from '../services/identity';
import { SessionService } from '../services/sessions';
import { SsoService } from '../services/sso';
import { webLoginHandlers } from './registry/web-login';
import { LicenseService } from '../services/licenses';
import { ProjectsService } from '../services/projects';
import { RequestsService } from '../services/requests';
import { CatalogueService } from '../services/catalogue';
import { TagsService } from '../services/tags';
import { WebhookService } from '../services/webhooks';
import { ImpactService } from '../services/impact';
import { BlockedInstalls } from '../services/blocked-installs';
import { AdvisoryFeed } from '../services/advisory-feed';
import { PeriodicTimers } from '../services/periodic';
import { onPolicyChanged } from '../services/policy-change';
import type { PackumentFetcher } from '../core/resolve';
import type { Packument } from '../core/packument';
import { PolicyCache } from '../services/policy-cache';
import { PublishingService, UpstreamProbe } from '../services/publishing';
import { parseDuration } from '../core/duration';
import { GatekeeperError } from '../core/errors';
import type { Role } from '../core/roles';
import { loadSettings, npmConfiguredRegistry, Settings } from './config';
import { createFastPath, createReadHandlers, prefetchStats, stopPrefetch, tarballCacheOf } from './registry/gate';
import { createLoginRouter } from './registry/login';
import { npmTokenHandlers } from './registry/npm-tokens';
import { createAuditHandler } from './registry/audit';
import { notOffered, ping, whoami } from './registry/basic';
import { createDispatcher, matchOrRefuse, refuseUnsupported, writeUnanswered } from './registry/routes';
import { installUpstreamMerge } from './upstream-merge';
import { installMetadataWrite } from './registry/metadata-write';
import { createMetricsHandler } from './registry/metrics';
import { GatekeeperMetrics, PoolLike } from './metrics';
import { onClientError, onConnect, onUnmetExpectation } from './http/client-error';
import { guarded, installProcessGuard, unguarded } from './http/process-guard';
import { clientAddress, requestProtocol, TrustProxyFn } from './http/client-address';
import { createSearchHandler } from './registry/search';
import { createConsoleHandler, createRootHandler } from './registry/console';
import { storedVersions } from './registry/stored-versions';
import { applyPackageRules } from './registry/private';
import { PackumentCache } from './registry/packument-cache';
import { parseSize } from '../core/duration';
import { createWriteHandlers } from './registry/publish';
import { tarballStorageKey } from './registry/tarball-cache';
import { tarballFilename } from '../core/names';
import { GATE_PLUGINS, GatekeeperRuntime, GatePluginName, HealthReport, registerRuntime, RequestContext, unregisterRuntime, VerdaccioStorage } from './runtime';
import { buildVerdaccioConfig } from './verdaccio-config';
import { StartupError } from './errors';
import { UpstreamClient } from '../upstream/client';
import { npmOptionsFor } from '../upstream/npm-options';
import { startUpstreamGateway } from './upstream-gateway';
import { InspectionService } from '../services/inspections';
import { JobRunner } from '../services/jobs';
import { normalizePackument } from '../core/packument-validate';
import { createStorageManifestSource } from './registry/manifests';
import { disableAllocationSitePretenuring, HeapReclaimer } from './heap-reclaim';
import { errorForLog } from './log-safe';

export interface StartOptions {
  settings?: Settings;
  logger?: Logger;
  /** Where the gate plugins are loaded from; tests point this at a broken copy. */
  pluginsDir?: string;
  /** Install SIGINT/SIGTERM handlers (the CLI does; tests do not). */
  handleSignals?: boolean;
}

export interface Gatekeeper {
  url: string;
  port: number;
  settings: Settings;
  database: Database;
  runtime: GatekeeperRuntime;
  /** The LISTEN connection that carries the announcements (policy, identity, advisories, inspections). */
  listener: ChannelListener;
  /** Verdaccio's express application, behind the route table (tests enumerate its routes). */
  verdaccioApp: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  close(): Promise<void>;
}

export { StartupError };

/** Storage locks (docs/security.md#package-storage): connections, the longest wait, the longest hold. */
const STORAGE_LOCK_POOL = 4;
const STORAGE_LOCK_WAIT_MS = 10_000;
const STORAGE_LOCK_MAX_HOLD_MS = 60_000;
/**
 * Long background work (Store.longTransaction): imports run one at a time, on one connection,
 * each statement given up on after LONG_WORK_STATEMENT_MS (a hung link never holds the work behind it forever).
 */
const LONG_WORK_POOL = 1;
const LONG_WORK_STATEMENT_MS = 5 * 60_000;

export const DEFAULT_PLUGINS_DIR = path.resolve(__dirname, '../../plugins');

export function packageVersion(): string {
  for (const candidate of ['../../package.json', '../../../package.json']) {
    const file = path.resolve(__dirname, candidate);
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  }
  return '0.0.0';
}

/** The server's logger; `destination` for tests (default: stdout, pretty on a terminal). `err` and `error` are written through errorForLog. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options = { level, name: 'gatekeeper', serializers: { err: errorForLog, error: errorForLog } };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY) {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const pretty = require('pino-pretty') as (opts: object) => NodeJS.WritableStream;
    return pino(options, pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss' }));
  }
  return pino(options);
}

async function checkUpstream(client: UpstreamClient): Promise<{ ok: boolean; error?: string }> {
  try {
    await client.ping();
    return { ok: true };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** Whether the upstream has a package: 200 yes, 404 no, anything else is an error. */
export function upstreamProbe(client: UpstreamClient): UpstreamProbe {
  return { hasPackage: (name) => client.hasPackage(name) };
}

/**
 * Full packuments straight from the upstream, through the upstream client and validated like
 * everything else it serves, for request checks and dependency resolution.
 */
export function upstreamFetcher(client: UpstreamClient): PackumentFetcher {
  return async (name) => {
    const fetched = await client.packument(name);
    if (fetched.status === 404) return undefined;
    if (fetched.status !== 200) throw new GatekeeperError('EUPSTREAM', `the upstream answered ${fetched.status} for ${name}. Try again later`);
    return normalizePackument(fetched.body, name).packument;
  };
}

function writeAdminPassword(dataDir: string, password: string): string {
  const file = path.join(dataDir, 'admin-password');
  fs.writeFileSync(file, `${password}\n`, { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return file;
}

/**
 * Stops accepting connections and lets in-flight requests finish: keep-alive connections are
 * closed as soon as they are idle, and any still busy after the grace period are cut.
 */
function drain(server: http.Server, logger: Logger, graceMs = 10_000): Promise<void> {
  return new Promise<void>((resolve) => {
    server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.setHeader('connection', 'close'));
    const sweep = setInterval(() => server.closeIdleConnections(), 50);
    const deadline = setTimeout(() => {
      logger.warn('requests still running after the shutdown grace period; closing their connections');
      server.closeAllConnections();
    }, graceMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/**
 * The composition root: settings -> database (embedded or external) -> migrations ->
 * services -> Verdaccio with our plugins. Refuses to start, naming the cause, when any
 * of that fails or any gate plugin did not load.
 */
export async function startGatekeeper(options: StartOptions = {}): Promise<Gatekeeper> {
  const settings = options.settings ?? loadSettings();
  const logger = options.logger ?? createLogger(settings.logLevel);
  // Before any request: a burst of long-lived work must not make later requests allocate in old space.
  disableAllocationSitePretenuring();
  const version = packageVersion();
  fs.mkdirSync(settings.dataDir, { recursive: true });
  // This instance's metrics: its own registry (several gatekeepers may share a process).
  const metrics = new GatekeeperMetrics({ allow: settings.metricsAllow });

  const upstream = settings.upstream ?? npmConfiguredRegistry();
  // The upstream as /health and the log name it: credentials in its URL (user:token@host) are the upstream client's alone.
  const shownUpstream = withoutCredentials(upstream);
  const databaseTimeoutMs = parseDuration(settings.databaseTimeout);
  // npm's proxy, CA and credentials for the upstream; a broken npmrc stops the start here,
  // before the database is touched.
  const npmOptions = npmOptionsFor(upstream);
  // The embedded server gone (killed, crashed): every request would be refused until someone
  // stepped in, while /-/ping still answered. The process stops instead, so its supervisor
  // starts both again; started in process (tests), it only says so.
  let stopForEmbeddedExit: (() => void) | undefined;
  const embeddedExited = (how: string) => {
    logger.error(
      { exit: how },
      `[EDATABASE] the embedded PostgreSQL server exited (${how}): no request can be decided without it.${options.handleSignals ? ' The gatekeeper stops (exit code 1) so that its supervisor starts both again' : ''}`,
    );
    stopForEmbeddedExit?.();
  };
  const cleanup: Array<() => Promise<void>> = [];
  const runCleanup = async () => {
    for (const fn of cleanup.reverse()) await fn().catch((err) => logger.warn({ err }, 'cleanup step failed'));
    cleanup.length = 0;
  };

  try {
    let database: Database;
    try {
      database = await openDatabase({
        url: settings.databaseUrl,
        dataDir: settings.dataDir,
        timeoutMs: databaseTimeoutMs,
        onLog: (line) => logger.debug({ pg: line.trim() }, 'embedded postgres'),
        onWarning: (message) => logger.warn(message),
        onEmbeddedExit: (how) => embeddedExited(how),
      });
    } catch (err) {
      throw new StartupError(`the governance database cannot be opened: ${(err as Error).message}`);
    }
    cleanup.push(() => database.close());
    logger.info({ database: database.kind === 'embedded' ? `embedded (${path.join(settings.dataDir, 'db')})` : redactUrl(database.url) }, 'database connected');

    try {
      // Migrations are exempt from the statement deadline: they run on a pool of their own.
      const migrator = createMigrationKnex(database.url);
      let applied: string[];
      try {
        applied = await migrateLatest(migrator);
      } finally {
        await migrator.destroy();
      }
      if (applied.length > 0) logger.info({ applied }, 'migrations applied');
      const ahead = await migrationsAhead(database.knex);
      if (ahead.length > 0) logger.warn({ ahead }, 'the database has migrations of a newer release; running on it (a rolling upgrade, docs/deploy.md)');
    } catch (err) {
      throw new StartupError(`the database could not be migrated: ${(err as Error).message}`);
    }

    // Package storage: the shared directory, each package's writes serialised across every
    // gatekeeper on the database by an advisory lock taken on a pool of its own.
    const lockKnex = createKnex(database.url, STORAGE_LOCK_POOL);
    cleanup.push(() => lockKnex.destroy());
    const storageDir = path.join(settings.dataDir, 'storage');
    fs.mkdirSync(storageDir, { recursive: true });
    const advisoryLocks = new PgAdvisoryLocks(lockKnex, {
      maxHoldMs: STORAGE_LOCK_MAX_HOLD_MS,
      onLost: (names) => logger.error({ packages: names }, `a storage write held its package lock past ${STORAGE_LOCK_MAX_HOLD_MS / 1000}s and lost it: another write may have run meanwhile; check the filesystem`),
    });
    const packageStorage = new FsPackageStorage(storageDir, new PackageLocks(advisoryLocks, { waitMs: STORAGE_LOCK_WAIT_MS }));

    // Long background work (advisory imports) on a pool of its own, without the request deadlines.
    const longKnex = createKnex(database.url, LONG_WORK_POOL, LONG_WORK_STATEMENT_MS);
    cleanup.push(() => longKnex.destroy());
    const store = new Store(database.knex, longKnex);
    const identity = new IdentityService(store, { allowSelfRegistration: settings.allowSelfRegistration, passwordLogin: settings.passwordLogin, loginThrottle: { maxFailuresPerUser: settings.loginMaxFailuresPerUser, maxFailuresPerAddress: settings.loginMaxFailuresPerAddress, windowMs: parseDuration(settings.loginThrottleWindow) } });
    const bootstrap = await identity.bootstrapAdmin(settings.adminPassword);
    if (bootstrap.created && bootstrap.generated && bootstrap.password) {
      const file = writeAdminPassword(settings.dataDir, bootstrap.password);
      process.stdout.write(
        `\n  First start: created the admin user 'admin' with the generated password\n\n      ${bootstrap.password}\n\n` +
          `  It is also in ${file} (mode 0600). It is not shown again.\n\n`,
      );
    } else if (bootstrap.created) {
      logger.info('created the admin user from GATEKEEPER_ADMIN_PASSWORD');
    }

    // One LISTEN connection carries the announcements: policy, tokens and users, advisories, tarball inspections, package writes.
    // A heartbeat past its grace is judged by the link's TCP state or, where that cannot be read,
    // by asking the pool whether the database answers anyone (listener.ts).
    const listener = new ChannelListener(database.url, [POLICY_CHANNEL, IDENTITY_CHANNEL, ADVISORY_CHANNEL, INSPECTION_CHANNEL, PACKAGE_CHANNEL], { probe: () => database.knex.raw('select 1') });
    try {
      await listener.start();
    } catch (err) {
      throw new StartupError(`cannot LISTEN for policy changes on the database: ${(err as Error).message}`);
    }
    cleanup.push(() => listener.close());
    identity.tokenCache = new TokenCache({ listener, channel: IDENTITY_CHANNEL });
    identity.tokenUse = new TokenUse(store);
    const cache = new PolicyCache({
      source: store.repos.policy,
      listener,
      channel: POLICY_CHANNEL,
      settleMs: databaseTimeoutMs > 0 ? databaseTimeoutMs : undefined,
      onError: (err) => logger.error({ err }, 'policy reload failed; denying until it succeeds'),
      onEvaluated: (decision) => metrics.decision(decision),
    });
    try {
      await cache.reload();
    } catch (err) {
      throw new StartupError(`the policy cannot be loaded: ${(err as Error).message}`);
    }
    listener.on('disconnected', () => logger.error('lost the policy invalidation channel; denying installs until it reconnects'));
    listener.on('connected', () => logger.info('policy invalidation channel connected'));
    listener.on('slow', () =>
      logger.warn(
        "the database has not answered the policy channel's heartbeat for 6 s, though its host (or a proxy in between) received it: denying installs until it answers; the connection is replaced after 30 s",
      ),
    );

    const auditWriter = new AuditWriter(store, (event) => {
      if (event.kind === 'retrying') logger.error({ err: event.err, pending: event.pending, attempt: event.attempt, retryInMs: event.delayMs }, 'audit entries could not be written; will retry');
      else if (event.kind === 'dropped') logger.error({ err: event.err, count: event.count, entries: event.entries }, `audit entries dropped: ${event.why}`);
      else logger.info({ pending: event.pending }, 'audit entries are being written again');
    }, { stuckMs: databaseTimeoutMs > 0 ? databaseTimeoutMs : undefined });
    cleanup.push(() => auditWriter.close());
    const governance = new GovernanceService(store, cache, auditWriter);
    governance.onBlocked = (code, ruleId, via) => metrics.installBlocked(code, ruleId, via);
    // All upstream traffic goes through one client: deadline, size limit, origin, error codes.
    const client = new UpstreamClient({
      registry: upstream,
      tarballHosts: settings.tarballHosts,
      timeoutMs: parseDuration(settings.upstreamTimeout),
      maxBytes: parseSize(settings.upstreamMaxSize),
      npmOptions,
      logger,
      observe: (operation, seconds, code) => metrics.upstreamCall(operation, seconds, code),
    });
    let prefetchAdvisories: (name: string, packument: Packument) => void = () => undefined;
    const gateway = await startUpstreamGateway(
      {
        packument: (name, opts) => client.packument(name, opts),
        search: (query) => client.search(query),
        // The advisory question starts now, while Verdaccio stores the document (cold path): for its valid versions only.
        fetched: (name, packument) => prefetchAdvisories(name, packument),
      },
      logger,
    );
    cleanup.push(() => gateway.close());
    const inspections = new InspectionService(store);
    // With the feed as the only source, nothing is asked per package: a first sight waits for no
    // second upstream call. What the feed stored counts as fresh while the feed was read (by any
    // instance, as the jobs table says) within twice its interval.
    let feedSyncedAt: () => number | null = () => null;
    const advisorySource =
      settings.advisorySource === 'feed' ? { syncedAt: () => feedSyncedAt(), freshForMs: 2 * parseDuration(settings.advisoryFeedInterval) } : upstreamAdvisorySource(client);
    const advisories = new AdvisoryService(store, cache, advisorySource, parseDuration(settings.advisoryRefresh));
    advisories.waitMs = parseDuration(settings.advisoryTimeout);
    // Before the database closes: check times still waiting to be written behind.
    cleanup.push(() => advisories.flushChecks());
    prefetchAdvisories = (name, packument) => {
      if (packument.versions) advisories.prefetch(name, Object.keys(packument.versions));
    };
    governance.advisories = advisories;
    governance.inspections = inspections;
    governance.upstreamDropped = (name) => gateway.droppedFor(name);
    const publishing = new PublishingService(store, cache, governance, upstreamProbe(client), storedVersions(packageStorage), {
      publisherWindowMs: parseDuration(settings.unpublishWindow),
    });
    try {
      const added = await publishing.seedRules(settings.publishRules);
      if (added > 0) logger.info({ added }, 'publish rules from the configuration added');
    } catch (err) {
      throw new StartupError(`the publish rules in the configuration are invalid: ${(err as Error).message}`);
    }

    const tags = new TagsService(store);
    const catalogue = new CatalogueService(store, governance, tags, (name) => publishing.isPrivate(name), logger);

    // Webhooks, impact records, install.blocked counts and the advisory feed (docs/supply-chain.md).
    // Events are queued fire-and-forget; the delivery worker and the feed are jobs.
    const webhooks = new WebhookService(store, logger, {
      timeoutMs: parseDuration(settings.webhookTimeout),
      maxAttempts: settings.webhookMaxAttempts,
      retryBaseMs: parseDuration(settings.webhookRetryBase),
      retryMaxMs: 3_600_000,
      pollMs: parseDuration(settings.webhookInterval),
    });
    const impact = new ImpactService(store, webhooks, logger);
    advisories.onStored((names) => impact.evaluate(names));
    advisories.onChecksError = (err, names) =>
      logger.error({ err, packages: names.slice(0, 20) }, 'advisory check times could not be recorded; these packages are asked again at their next read');
    advisories.onStoredError = (err, names) => logger.error({ err, packages: names.slice(0, 20) }, 'impact records could not be brought up to date; the next change of these packages tries again');
    onPolicyChanged(cache, (change) => webhooks.emit('policy.changed', { what: change.what, by: change.by, generation: change.generation ?? null }));
    // Counted in this instance's memory, so flushed by this instance's own timer (not a cluster-wide job).
    const blockedInstalls = new BlockedInstalls(webhooks, parseDuration(settings.installBlockedInterval));
    governance.blockedInstalls = blockedInstalls;
    const advisoryFeed = settings.advisoryFeedUrl
      ? new AdvisoryFeed(advisories, { url: settings.advisoryFeedUrl, intervalMs: parseDuration(settings.advisoryFeedInterval), timeoutMs: parseDuration(settings.upstreamTimeout), maxBytes: parseSize(settings.upstreamMaxSize) }, logger)
      : undefined;
    const timers = new PeriodicTimers(logger);

    const id = randomUUID();
    // The public URL: configured (with a trailing slash), else the address listened on (set below).
    let listeningUrl = `http://${settings.host}:${settings.port}/`;
    const configuredPublicUrl = () => (settings.publicUrl ? (settings.publicUrl.endsWith('/') ? settings.publicUrl : `${settings.publicUrl}/`) : undefined);
    // Scheduled work, claimed through the jobs table so N instances do each job once per
    // interval (docs/operations.md). Jobs are registered before it starts, once the server listens.
    const jobs = new JobRunner(store, logger, { instanceId: `${os.hostname()}:${process.pid}:${id.slice(0, 8)}`, leaseMs: parseDuration(settings.jobLease), pollMs: parseDuration(settings.jobPoll) });
    if (advisories.sourceKind === 'upstream') jobs.register(advisories.refreshJob());
    jobs.register(webhooks.job());
    jobs.register(webhooks.pruneJob());
    jobs.register(publishing.reconcileJob());
    if (advisoryFeed) {
      const feedJob = advisoryFeed.job();
      jobs.register(feedJob);
      if (advisories.sourceKind === 'feed') {
        feedSyncedAt = () => jobs.lastSuccess(feedJob.name);
        // Known before the first request: until the first poll, the feed would look never read.
        await jobs.read(feedJob.name);
      }
    }
    let shuttingDown = false;
    // express's compiled GATEKEEPER_TRUST_PROXY test, once Verdaccio's app exists.
    let trustProxy: TrustProxyFn | undefined;
    const loaded = new Set<GatePluginName>();
    const requestContext = new AsyncLocalStorage<RequestContext>();
    let upstreamHealth: { at: number; result: Promise<{ ok: boolean; error?: string }> } | undefined;

    // The garbage large packument builds and policy reloads leave (a burst of thousands of
    // approvals reloads the policy once each) is collected once they are over (heap-reclaim.ts).
    const heap = new HeapReclaimer({
      growthBytes: parseSize(settings.heapReclaim),
      onCollected: ({ before, after, ms }) => logger.debug({ heapBeforeMb: Math.round(before / 1048576), heapAfterMb: Math.round(after / 1048576), ms: Math.round(ms) }, 'full garbage collection after large packument builds or policy reloads'),
    });
    cleanup.push(async () => heap.close());
    cache.onReload(() => heap.check());
    const runtime: GatekeeperRuntime = {
      id,
      settings,
      logger,
      identity,
      sessions: new SessionService(store, identity),
      governance,
      publishing,
      licenses: new LicenseService(store, cache, governance),
      advisories,
      requests: new RequestsService(
        store,
        cache,
        governance,
        upstreamFetcher(client),
        {
          perHour: settings.requestLimitPerHour,
          rejectionCooldownMs: parseDuration(settings.requestRejectionCooldown),
        },
        webhooks,
      ),
      inspections,
      jobs,
      gateway,
      upstreamSearch: (query) => client.search(query),
      upstreamTarball: (url, expected, what) => client.tarball(url, { ...expected, label: what }),
      projects: new ProjectsService(store, catalogue, impact, (err) => logger.error({ err }, 'impact records could not be brought up to date for a recorded project')),
      impact,
      webhooks,
      advisoryFeed,
      blockedInstalls,
      tags,
      catalogue,
      audit: new AuditLog(store),
      packuments: new PackumentCache(parseSize(settings.cacheSize), () => heap.check()),
      forgetPackage(name) {
        cache.forget(name);
        runtime.packuments.invalidate(name);
      },
      async packageChanged(name) {
        runtime.forgetPackage(name);
        try {
          await announcePackageChange(database.knex, name);
        } catch (err) {
          // Not announced: the other processes keep what they hold until their channel drops (then they forget every package).
          logger.error({ err, package: name }, 'a write to a package could not be announced to the other instances');
          return;
        }
        if (!(await listener.barrier(PACKAGE_CHANNEL, listener.confirmWithinMs))) logger.warn({ package: name }, 'not every instance confirmed a write to a package in time; one that did not no longer trusts its caches');
      },
      heap,
      storage: packageStorage,
      metrics,
      requestContext,
      pluginLoaded: (name) => loaded.add(name),
      publicUrl: (req) => configuredPublicUrl() ?? `${req.protocol}://${req.get('host') ?? `${settings.host}:${settings.port}`}/`,
      clientAddress: (req) => clientAddress(req, trustProxy),
      requestProtocol: (req) => requestProtocol(req, trustProxy),
      mount(app: Application, storage: VerdaccioStorage) {
        governance.manifests = createStorageManifestSource(runtime, storage);
        // Verdaccio's uplink reads packuments in process (no loopback hop); its search stays on the gateway's URL.
        if (!gateway.attach(storage)) logger.warn('Verdaccio has no uplink to attach to: packuments go through the upstream gateway over loopback HTTP');
        // The upstream's dist-tags, unpublishes and deprecations reach the stored copies (core/packument-merge.ts).
        // The package is decided again by every instance; a version the upstream unpublished is
        // then not found, and its stored tarball goes first, so no instance serves it.
        const upstreamChanged = (name: string, versions: readonly string[]) => {
          const removals = versions.map((version) => {
            const key = tarballStorageKey(name, tarballFilename(name, version));
            return key ? packageStorage.delete(key).catch((err: unknown) => logger.error({ err, package: name, version }, 'the stored tarball of a version the upstream unpublished could not be removed')) : undefined;
          });
          runtime.forgetPackage(name);
          // Every instance forgets once the stored tarballs are gone (its own stored copy is the one removed).
          void Promise.all(removals).then(() => runtime.packageChanged(name));
        };
        // npm unpublish and deprecate write what the gate checked, not more (registry/metadata-write.ts).
        if (!installMetadataWrite(storage)) logger.warn("Verdaccio has no changePackage to replace: a version published while an unpublish or deprecation of the package is written may be lost");
        if (!installUpstreamMerge(storage, logger, upstreamChanged)) logger.warn("Verdaccio has no mergeVersions to replace: a dist-tag the upstream moves back, or a version it unpublishes, stays as stored");
        // Private names must never be proxied, also after rules change at run time.
        cache.onReload((policy) => applyPackageRules(storage.config.packages, policy.publishRules));
        const login = createLoginRouter(runtime);
        // The route table (registry/routes.ts) decides who reaches which handler; Verdaccio
        // is reached only through the handlers that pass a request on.
        app.use(
          createDispatcher(runtime, {
            ping,
            whoami,
            login,
            logout: login,
            ...webLoginHandlers(runtime),
            ...npmTokenHandlers(runtime),
            search: createSearchHandler(runtime, storage),
            audit: createAuditHandler(runtime, client),
            admin: (_req, _res, next) => next(),
            root: createRootHandler(),
            console: createConsoleHandler(),
            metrics: createMetricsHandler(runtime),
            unsupported: refuseUnsupported,
            ...createReadHandlers(runtime, storage),
            ...createWriteHandlers(runtime, storage),
          }),
        );
        app.use(ADMIN_PREFIX, createAdminRouter(runtime, version));
      },
      async readiness() {
        const reasons: string[] = [];
        if (shuttingDown) reasons.push('it is shutting down');
        await store.ping(databaseTimeoutMs).catch((err: Error) => reasons.push(`the database is unreachable (${err.message})`));
        if (!cache.healthy) reasons.push(`the policy is not trusted (${cache.problem ?? 'the invalidation channel is down'})`);
        await packageStorage.check().catch((err: Error) => reasons.push(`the package storage is not writable (${err.message})`));
        return { ready: reasons.length === 0, reasons };
      },
      async health(): Promise<HealthReport> {
        const db = await store.ping(databaseTimeoutMs).then(
          () => ({ ok: true }),
          (err: Error) => ({ ok: false, error: err.message }),
        );
        if (!upstreamHealth || Date.now() - upstreamHealth.at > 10_000) upstreamHealth = { at: Date.now(), result: checkUpstream(client) };
        const up = await upstreamHealth.result;
        const missing = Object.values(GATE_PLUGINS).filter((p) => !loaded.has(p));
        const report: HealthReport = {
          ok: false,
          database: { kind: database.kind, ...db },
          policy: { ok: cache.healthy, generation: cache.generation, error: cache.problem },
          plugins: { ok: missing.length === 0, loaded: [...loaded], missing },
          upstream: { url: shownUpstream, ...up },
          cache: runtime.packuments.stats(),
          advisories: { ...advisories.health(), mode: cache.healthy ? cache.current().rules.advisories.mode : 'unknown' },
          audit: auditWriter.health(),
          inspections: inspections.health(),
          webhooks: webhooks.health(),
          ...(advisoryFeed ? { advisoryFeed: advisoryFeed.health() } : {}),
          jobs: jobs.health(),
          timers: timers.health(),
        };
        const prefetch = prefetchStats(runtime);
        if (prefetch) report.prefetch = prefetch;
        report.ok = report.database.ok && report.policy.ok && report.plugins.ok && report.upstream.ok && report.audit.ok;
        return report;
      },
    };
    // Single sign-on (docs/sso.md): its URLs come from the configured public URL (else the
    // address listened on), never from a request's Host header.
    if (settings.ssoIssuer && settings.ssoClientId) {
      runtime.sso = new SsoService(store, identity, runtime.sessions, {
        issuer: settings.ssoIssuer,
        clientId: settings.ssoClientId,
        clientSecret: settings.ssoClientSecret,
        name: settings.ssoName,
        scopes: settings.ssoScopes,
        groupsClaim: settings.ssoGroupsClaim,
        usernameClaim: settings.ssoUsernameClaim,
        groupRoles: { admin: settings.ssoAdminGroups, publisher: settings.ssoPublisherGroups, developer: settings.ssoDeveloperGroups, reader: settings.ssoReaderGroups },
        defaultRole: settings.ssoDefaultRole as Role,
        refuseUnmapped: settings.ssoRefuseUnmapped,
        loginTtlMs: parseDuration(settings.ssoLoginTtl),
        publicUrl: () => configuredPublicUrl() ?? listeningUrl,
      });
    }
    registerRuntime(runtime);
    metrics.watch({
      packuments: runtime.packuments,
      tarballs: () => tarballCacheOf(runtime),
      tokens: () => identity.tokenCache,
      decisions: cache,
      pool: () => (database.knex.client as { pool?: PoolLike }).pool,
      listener,
      policyTrusted: () => cache.healthy,
      audit: auditWriter,
      jobs,
      heap,
    });
    cleanup.push(async () => unregisterRuntime(id));
    cleanup.push(async () => stopPrefetch(runtime));
    // New advisories for a package change its decisions and its cached responses.
    advisories.onChange((name) => runtime.forgetPackage(name));
    // Another process imported, flagged or overrode an entry: reload the package's advisories
    // (which forgets its decisions, so a stored tarball is decided again). A reconnect may have
    // missed announcements: forget every package's advisories.
    // Which packages have entries at all is loaded with them, after LISTEN (see loadIndex);
    // until it is, and when it fails, first sights read the database for every package.
    const forgetAdvisories = () => {
      advisories.forgetAll();
      advisories.loadIndex().catch((err) => logger.warn({ err }, 'the index of packages with advisories could not be loaded; first sights read the database until the next reconnect'));
    };
    listener.on('message', (channel: string, payload: string) => {
      if (channel !== ADVISORY_CHANNEL) return;
      advisories.announced(payload);
      advisories.reload(payload).catch((err) => {
        logger.error({ err, package: payload }, 'advisories could not be reloaded after a change; forgetting them');
        forgetAdvisories();
      });
    });
    listener.on('connected', forgetAdvisories);
    // An admin's advisory change answers once every process has dropped what it decided before.
    advisories.barrier = () => listener.barrier(ADVISORY_CHANNEL, listener.confirmWithinMs);
    if (listener.connected) forgetAdvisories();
    // A tarball inspection recorded by any process: the package is decided again with it. A
    // reconnect may have missed some: every package's inspections are read again.
    const forgetInspections = () => {
      for (const name of inspections.forgetAll()) runtime.forgetPackage(name);
      inspections.loadIndex().catch((err) => logger.warn({ err }, 'the index of packages with tarball inspections could not be loaded; first sights read the database until the next reconnect'));
    };
    listener.on('message', (channel: string, payload: string) => {
      if (channel !== INSPECTION_CHANNEL) return;
      const changed = inspections.announced(payload);
      if (changed !== undefined) runtime.forgetPackage(changed);
    });
    listener.on('connected', forgetInspections);
    if (listener.connected) forgetInspections();
    // A package written by any process (its own announcements included): what was made from its
    // storage before goes. A reconnect may have missed some: every decision and held tarball goes
    // (held packument responses are checked against the storage revision on every use).
    listener.on('message', (channel: string, payload: string) => {
      if (channel === PACKAGE_CHANNEL && payload !== '') runtime.forgetPackage(payload);
    });
    listener.on('connected', () => {
      cache.forgetAll();
      tarballCacheOf(runtime).clear();
    });
    // An unreachable advisory source is the operator's problem: logged when it changes, shown in /health.
    advisories.onHealthChange((health) => {
      if (health.ok) logger.info({ advisories: health }, 'advisory source reachable again');
      else logger.warn({ advisories: health }, 'advisory source unreachable: decisions use the advisories known so far (see /-/gatekeeper/v1/health)');
    });

    const verdaccioConfig = buildVerdaccioConfig({
      settings,
      upstream: gateway.url,
      instance: id,
      pluginsDir: options.pluginsDir ?? DEFAULT_PLUGINS_DIR,
      publishRules: cache.current().publishRules,
    });
    let server: http.Server;
    try {
      server = (await runServer(verdaccioConfig as never)) as http.Server;
    } catch (err) {
      throw new StartupError(`Verdaccio could not be started: ${(err as Error).message}`);
    }
    const missing = Object.values(GATE_PLUGINS).filter((p) => !loaded.has(p));
    if (missing.length > 0) {
      throw new StartupError(
        `refusing to start: the gate plugin(s) ${missing.map((m) => `verdaccio-${m}`).join(', ')} did not load from ${options.pluginsDir ?? DEFAULT_PLUGINS_DIR}. ` +
          'Without every gate plugin the registry would serve unfiltered packages; check the log above for the plugin error',
      );
    }

    // Every request is matched against the route table before express: unlisted ones are
    // refused here, and cached anonymous reads are answered here (see createFastPath).
    const app = server.listeners('request')[0] as (req: http.IncomingMessage, res: http.ServerResponse, done?: (err?: unknown) => void) => void;
    if (settings.trustProxy.length > 0) trustProxy = (app as unknown as Application).get('trust proxy fn') as TrustProxyFn;
    const fastPath = createFastPath(runtime);
    server.removeAllListeners('request');
    const releaseGuard = installProcessGuard(logger);
    cleanup.push(async () => releaseGuard());
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      metrics.track(req, res);
      // Matching (which writes its own refusals) and the fast path (which catches its own errors)
      // are synchronous: they run outside the guard's context; what goes on to express, inside.
      let served = false;
      const handled = unguarded(res, logger, () => {
        const match = matchOrRefuse(req, res);
        // Only the admin API's route takes OPTIONS (its methods are '*'): its router knows each path's methods.
        served = match === undefined || (req.method === 'OPTIONS' ? answerAdminOptions(req, res) : fastPath(req, res, match));
      });
      if (!handled || served) return;
      // A policy change announced by another instance and not loaded yet: the request waits
      // for the reload (bounded; PolicyCache.settled) rather than be decided with the policy
      // before the change. A failure is the handlers' to write (current() refuses).
      if (cache.stale) cache.settled().then(proceed, proceed);
      else proceed();
      function proceed(): void {
        guarded(res, logger, () => app(req, res, (err?: unknown) => writeUnanswered(runtime, req, res, err)));
      }
    });

    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new StartupError(`cannot listen on ${settings.host}:${settings.port}: ${err.message}`)));
      server.listen(settings.port, settings.host, () => resolve());
    });
    server.keepAliveTimeout = 60_000;
    // What the HTTP parser refuses gets the error envelope too (client-error.ts).
    server.removeAllListeners('clientError');
    server.on('clientError', onClientError);
    server.on('connect', onConnect);
    server.on('checkExpectation', onUnmetExpectation);
    cleanup.push(() => drain(server, logger));
    // Background jobs run once the instance serves; on shutdown they stop first (cleanup runs in reverse).
    jobs.start();
    cleanup.push(() => jobs.stop());
    timers.start(blockedInstalls.job());
    timers.start(identity.tokenUse.job());
    cleanup.push(async () => {
      await timers.stop();
      blockedInstalls.flush();
      await identity.tokenUse?.flush().catch((err) => logger.warn({ err }, 'the last-used times of tokens could not be written at shutdown'));
      await webhooks.settled();
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : settings.port;
    const url = `http://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${port}/`;
    listeningUrl = url;
    logger.info({ url, upstream: shownUpstream, version }, 'npm-gatekeeper is listening');

    let closing: Promise<void> | undefined;
    const gatekeeper: Gatekeeper = {
      url,
      port,
      settings: { ...settings, port },
      database,
      runtime,
      listener,
      verdaccioApp: app,
      close: () => {
        // Readiness fails from now on, so a load balancer stops routing before connections
        // close; requests are still served for GATEKEEPER_SHUTDOWN_DELAY, then drained.
        shuttingDown = true;
        const delay = parseDuration(settings.shutdownDelay);
        return (closing ??= new Promise<void>((resolve) => setTimeout(resolve, delay)).then(runCleanup));
      },
    };
    if (options.handleSignals) {
      const onSignal = (signal: string) => {
        logger.info({ signal }, 'shutting down: finishing in-flight requests');
        gatekeeper.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      stopForEmbeddedExit = () => {
        gatekeeper.close().finally(() => process.exit(1));
      };
    }
    return gatekeeper;
  } catch (err) {
    await runCleanup();
    throw err;
  }
}

/** A URL without the user and password it may carry; unchanged when it is no URL. */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return url;
  }
}
