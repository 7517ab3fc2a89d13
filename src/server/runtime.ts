import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { SessionService } from '../services/sessions';
import type { SsoService } from '../services/sso';
import type { Application } from 'express';
import type { Logger } from 'pino';
import type { AdvisoryHealth, AdvisoryService } from '../services/advisories';
import type { AuditHealth, AuditLog } from '../services/audit';
import type { CatalogueService } from '../services/catalogue';
import type { GovernanceService } from '../services/governance';
import type { IdentityService } from '../services/identity';
import type { LicenseService } from '../services/licenses';
import type { ProjectsService } from '../services/projects';
import type { ImpactService } from '../services/impact';
import type { WebhookHealth, WebhookService } from '../services/webhooks';
import type { AdvisoryFeed, AdvisoryFeedHealth } from '../services/advisory-feed';
import type { BlockedInstalls } from '../services/blocked-installs';
import type { PublishingService } from '../services/publishing';
import type { RequestsService } from '../services/requests';
import type { InspectionHealth, InspectionService } from '../services/inspections';
import type { JobHealth, JobRunner } from '../services/jobs';
import type { TagsService } from '../services/tags';
import type { UpstreamGateway } from './upstream-gateway';
import type { Settings } from './config';
import type { HeapReclaimer } from './heap-reclaim';
import type { PeriodicHealth } from '../services/periodic';
import type { PackumentCache } from './registry/packument-cache';
import type { PrefetchStats } from './registry/prefetch';
import type { PackageStorage } from '../core/storage';
import type { GatekeeperMetrics } from './metrics';

/**
 * What our Verdaccio plugins need from the composition root. Verdaccio deep-clones its
 * configuration, so live objects cannot travel through it: each plugin receives only an
 * instance id and looks the runtime up here. The registry lives on a global symbol so a
 * plugin loaded from the build output finds a runtime created by the sources, and several
 * gatekeepers can run in one process (tests).
 */

export const GATE_PLUGINS = {
  auth: 'gatekeeper-auth',
  filter: 'gatekeeper-filter',
  middleware: 'gatekeeper-middleware',
  storage: 'gatekeeper-storage',
} as const;
export type GatePluginName = (typeof GATE_PLUGINS)[keyof typeof GATE_PLUGINS];

export interface RequestContext {
  /** Set while our gate reads the unfiltered packument from Verdaccio's storage. */
  raw?: boolean;
}

/** The subset of Verdaccio's storage our gate uses. */
export interface VerdaccioStorage {
  config: { packages: Record<string, unknown> };
  getPackage(options: {
    name: string;
    uplinksLook: boolean;
    req: unknown;
    abbreviated?: boolean;
    keepUpLinkData?: boolean;
    callback: (err: unknown, metadata?: unknown) => void;
  }): void;
}

export interface HealthReport {
  ok: boolean;
  database: { ok: boolean; kind: 'embedded' | 'external'; error?: string };
  policy: { ok: boolean; generation?: number; error?: string };
  plugins: { ok: boolean; loaded: string[]; missing: string[] };
  upstream: { ok: boolean; url: string; error?: string };
  cache: { entries: number; bytes: number; maxBytes: number; hits: number; misses: number };
  advisories: AdvisoryHealth & { mode: string };
  /** The batched audit writer: not ok while entries cannot be written. */
  audit: AuditHealth;
  /** Tarball inspections recorded after their answers: failed inserts (each version is inspected again on its next fetch). Not part of `ok`. */
  inspections: InspectionHealth;
  /** Webhooks: whether events can be queued (failures are dropped and counted), deliveries sent here. */
  webhooks: WebhookHealth;
  /** The scheduled advisory feed (GATEKEEPER_ADVISORY_FEED_URL), when one is set. */
  advisoryFeed?: AdvisoryFeedHealth;
  /** Background jobs (docs/operations.md): each job's cluster-wide state as this instance last polled it. Not part of `ok`. */
  jobs: Record<string, JobHealth>;
  /** This instance's own periodic work (docs/operations.md, Work that stays per instance): runs and the last error. Not part of `ok`. */
  timers?: Record<string, PeriodicHealth>;
  /** Packuments built ahead of an install's requests (GATEKEEPER_PREFETCH_DEPENDENCIES). Not part of `ok`. */
  prefetch?: PrefetchStats;
}

export interface GatekeeperRuntime {
  id: string;
  settings: Settings;
  logger: Logger;
  identity: IdentityService;
  /** The web console's sessions (cookie, expiry, CSRF). */
  sessions: SessionService;
  /** Sign-in through the identity provider (npm web login, the console); undefined when SSO is off. */
  sso?: SsoService;
  governance: GovernanceService;
  publishing: PublishingService;
  licenses: LicenseService;
  requests: RequestsService;
  advisories: AdvisoryService;
  projects: ProjectsService;
  /** Impact records: advisories and malware entries that affect versions recorded projects use. */
  impact: ImpactService;
  /** Webhook endpoints, their events and deliveries. */
  webhooks: WebhookService;
  /** The scheduled advisory feed, when GATEKEEPER_ADVISORY_FEED_URL is set. */
  advisoryFeed?: AdvisoryFeed;
  /** Refused installs counted for the install.blocked event, flushed every GATEKEEPER_INSTALL_BLOCKED_INTERVAL. */
  blockedInstalls: BlockedInstalls;
  /** Tags on packages (docs/catalogue.md). */
  tags: TagsService;
  /** Recorded versions and dependency edges, reverse dependencies, the catalogue listing. */
  catalogue: CatalogueService;
  audit: AuditLog;
  inspections: InspectionService;
  /** Scheduled background work, claimed through the database so N instances do it once (services/jobs.ts). */
  jobs: JobRunner;
  /** The upstream's search (`-/v1/search`, `query` its query string): a JSON object, or EUPSTREAM. */
  upstreamSearch(query: string): Promise<Record<string, unknown>>;
  /** Fetches an upstream tarball: only from the upstream's origin, verified against its integrity. */
  upstreamTarball(url: string, expected: { integrity?: string; shasum?: string }, what: string): Promise<Buffer>;
  /** What Verdaccio's uplink talks to (see upstream-gateway.ts). */
  gateway: UpstreamGateway;
  /** Package documents and tarballs, with each package's cross-instance write lock (docs/security.md#package-storage). */
  storage: PackageStorage;
  /** Cached packument responses (see registry/packument-cache.ts). */
  packuments: PackumentCache;
  /** Drops this process's decisions, responses and held tarballs for a package: what they were made from changed. */
  forgetPackage(name: string): void;
  /**
   * A package's storage was written here: forgotten by this process and announced to every
   * other (PACKAGE_CHANNEL); resolves once every process has handled it (or its barrier's time
   * has passed: a process that did not answer no longer trusts its caches). Never rejects.
   */
  packageChanged(name: string): Promise<void>;
  /** Asks V8 for one compacting collection after large packument builds (heap-reclaim.ts). */
  heap: HeapReclaimer;
  /** This instance's metrics (/-/gatekeeper/metrics, docs/metrics.md). */
  metrics: GatekeeperMetrics;
  /** Health of the parts /health reports on. */
  health(): Promise<HealthReport>;
  /** Whether a load balancer should route to this instance; the reasons when not. */
  readiness(): Promise<{ ready: boolean; reasons: string[] }>;
  requestContext: AsyncLocalStorage<RequestContext>;
  /** Called by each gate plugin once it is constructed and ready. */
  pluginLoaded(name: GatePluginName): void;
  /** Mounts the admin API, login routes and the gate on Verdaccio's app. */
  mount(app: Application, storage: VerdaccioStorage): void;
  /** The registry URL as the client addressed it, for messages. */
  publicUrl(req: { protocol: string; get(name: string): string | undefined }): string;
  /** The client's address as express's req.ip gives it (X-Forwarded-For only from GATEKEEPER_TRUST_PROXY). */
  clientAddress(req: IncomingMessage): string | null;
  /** The request's protocol as express's req.protocol gives it (X-Forwarded-Proto only from GATEKEEPER_TRUST_PROXY). */
  requestProtocol(req: IncomingMessage): string;
}

const REGISTRY = Symbol.for('npm-gatekeeper.runtimes');

function registry(): Map<string, GatekeeperRuntime> {
  const holder = globalThis as unknown as Record<symbol, Map<string, GatekeeperRuntime> | undefined>;
  let map = holder[REGISTRY];
  if (!map) {
    map = new Map();
    holder[REGISTRY] = map;
  }
  return map;
}

export function registerRuntime(runtime: GatekeeperRuntime): void {
  registry().set(runtime.id, runtime);
}

export function unregisterRuntime(id: string): void {
  registry().delete(id);
}

/** Throws with a message naming the plugin when the runtime is missing (fail closed). */
export function runtimeFor(pluginConfig: unknown, plugin: GatePluginName): GatekeeperRuntime {
  const id = (pluginConfig as { instance?: unknown } | undefined)?.instance;
  const runtime = typeof id === 'string' ? registry().get(id) : undefined;
  if (!runtime) {
    throw new Error(`${plugin}: no gatekeeper runtime '${String(id)}'; this plugin only runs inside 'gatekeeper start'`);
  }
  return runtime;
}
