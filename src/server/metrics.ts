import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { AddressList, compileAddressList } from '../core/address-list';
import type { ErrorCode } from '../core/errors';
import type { Decision } from '../core/policy';
import { errorCodeOf } from './http/write-error';
import { routeOf } from './registry/routes';
import type { UpstreamOperation } from '../upstream/client';

/**
 * What one gatekeeper instance reports at /-/gatekeeper/metrics (docs/metrics.md lists every
 * metric). Each instance has its own prom-client Registry, never the global one: several
 * gatekeepers may run in one process (tests), and each reports only itself.
 *
 * Hot path cost: a request is counted when its response closes, into a number held in nested
 * maps (route -> status -> code) made once per combination, so counting allocates nothing;
 * prom-client sees the numbers only when it is scraped (collect callbacks). Cache hits and
 * misses, pool use and queue depth are read from the parts that already count them,
 * at scrape time. Label values are bounded: route names from the route table (UNLISTED_ROUTE
 * for anything it refused), status codes, error codes, rule kinds.
 */

/** The route label of every request the route table did not list (its raw path never is a label). */
export const UNLISTED_ROUTE = 'unlisted';
/** The code label of a response that carries no error code (a success). */
export const NO_CODE = 'none';


export interface StatsSource {
  stats(): { entries: number; hits: number; misses: number; bytes?: number };
}

/** The knex (tarn) pool as far as it is read here. */
export interface PoolLike {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
  numPendingCreates(): number;
  max?: number;
}

/** The JobRunner as far as it is read here (src/services/jobs.ts). */
export interface JobsLike {
  health(): Record<string, { ok: boolean }>;
  /** Tells the listener about every run this instance finishes. */
  onRun(listener: (event: { name: string; ok: boolean; durationMs: number; takeover: boolean }) => void): void;
}

export interface MetricSources {
  packuments: StatsSource;
  tarballs: () => StatsSource | undefined;
  tokens: () => StatsSource | undefined;
  decisions: StatsSource;
  pool: () => PoolLike | undefined;
  /** The LISTEN connection. */
  listener: { readonly connected: boolean };
  /** Whether the policy is trusted (loaded while the LISTEN connection was up). */
  policyTrusted: () => boolean;
  audit: { health(): { pending: number; written: number; dropped: number } };
  jobs: JobsLike;
  /** The collections asked for after large packument builds or policy reloads (src/server/heap-reclaim.ts). */
  heap: { stats(): { collections: number; seconds: number } };
}

interface Slot {
  labels: Record<string, string>;
  value: number;
}

/** Rule ids seen, with their labels (a blocked request looks its rule up, no string work). */
const RULE_LABELS = new Map<string, string>();
const RULE_LABELS_MAX = 10_000;

/** Rule kinds as labels: `ban:12` -> `ban`, `mode:allowlist` -> `mode`; anything odd -> `other`. */
export function ruleLabel(ruleId: string | null | undefined): string {
  if (!ruleId) return 'none';
  let label = RULE_LABELS.get(ruleId);
  if (label === undefined) {
    const colon = ruleId.indexOf(':');
    const kind = colon === -1 ? ruleId : ruleId.slice(0, colon);
    label = /^[a-z][a-z0-9_-]{0,39}$/.test(kind) ? kind : 'other';
    if (RULE_LABELS.size >= RULE_LABELS_MAX) RULE_LABELS.clear();
    RULE_LABELS.set(ruleId, label);
  }
  return label;
}

/**
 * Counts by three label values held in nested maps, one Slot per combination made when it is
 * first seen: counting a combination seen before allocates nothing (no key string is built).
 */
class Tally3<A extends string | number, B extends string | number, C extends string | number> {
  private readonly root = new Map<A, Map<B, Map<C, Slot>>>();

  constructor(private readonly names: readonly [string, string, string]) {}

  bump(a: A, b: B, c: C): void {
    let byB = this.root.get(a);
    if (!byB) {
      byB = new Map();
      this.root.set(a, byB);
    }
    let byC = byB.get(b);
    if (!byC) {
      byC = new Map();
      byB.set(b, byC);
    }
    const slot = byC.get(c);
    if (slot) slot.value++;
    else byC.set(c, { labels: { [this.names[0]]: String(a), [this.names[1]]: String(b), [this.names[2]]: String(c) }, value: 1 });
  }

  *slots(): Iterable<Slot> {
    for (const byB of this.root.values()) for (const byC of byB.values()) yield* byC.values();
  }
}

const UPSTREAM_LABELS: Record<UpstreamOperation, { operation: UpstreamOperation }> = {
  packument: { operation: 'packument' },
  tarball: { operation: 'tarball' },
  search: { operation: 'search' },
  ping: { operation: 'ping' },
  post: { operation: 'post' },
  stream: { operation: 'stream' },
};

export class GatekeeperMetrics {
  readonly registry = new Registry();
  private sources: MetricSources | undefined;
  private readonly requests = new Tally3<string, number, string>(['route', 'status', 'code']);
  private readonly decisions = new Tally3<string, string, string>(['outcome', 'code', 'rule']);
  private readonly blocked = new Tally3<string, string, string>(['code', 'rule', 'via']);
  private listenDisconnects = 0;
  private listenSlowHeartbeats = 0;
  private readonly upstreamLatency: Histogram<'operation'>;
  private readonly upstreamErrors: Counter<'operation' | 'code'>;
  private readonly jobRuns: Counter<'job' | 'outcome'>;
  private readonly jobDuration: Histogram<'job'>;
  private readonly jobTakeovers: Counter<'job'>;
  /** The response 'close' listener: one function per instance, `this` is the response. */
  private readonly onClose: (this: ServerResponse) => void;

  private readonly allow: AddressList;

  constructor(options: { allow?: readonly string[] } = {}) {
    this.allow = compileAddressList(options.allow ?? []);
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    const tally = (slots: () => Iterable<Slot>) =>
      function collect(this: Counter<string>) {
        this.reset();
        for (const slot of slots()) this.inc(slot.labels, slot.value);
      };
    const self = this;

    new Counter({
      name: 'gatekeeper_http_requests_total',
      help: 'Requests answered, by route-table route (unlisted: refused by the table), HTTP status and error code (none: no error).',
      labelNames: ['route', 'status', 'code'],
      registers,
      collect: tally(() => self.requests.slots()),
    });
    new Counter({
      name: 'gatekeeper_decisions_total',
      help: 'Version decisions the policy evaluated (a cached decision is a decisions cache hit instead), by outcome, code and rule kind.',
      labelNames: ['outcome', 'code', 'rule'],
      registers,
      collect: tally(() => self.decisions.slots()),
    });
    new Counter({
      name: 'gatekeeper_installs_blocked_total',
      help: 'Refused installs served (packument, version or tarball), by code, rule kind and what was asked for.',
      labelNames: ['code', 'rule', 'via'],
      registers,
      collect: tally(() => self.blocked.slots()),
    });

    const caches = (): Array<[string, StatsSource | undefined]> => {
      const s = self.sources;
      if (!s) return [];
      return [
        ['packuments', s.packuments],
        ['decisions', s.decisions],
        ['tokens', s.tokens()],
        ['tarballs', s.tarballs()],
      ];
    };
    const cacheCounter = (name: string, help: string, field: 'hits' | 'misses') =>
      new Counter({
        name,
        help,
        labelNames: ['cache'],
        registers,
        collect(this: Counter<'cache'>) {
          this.reset();
          for (const [cache, source] of caches()) if (source) this.inc({ cache }, source.stats()[field]);
        },
      });
    cacheCounter('gatekeeper_cache_hits_total', 'Cache lookups answered from memory, by cache (packuments, decisions, tokens, tarballs).', 'hits');
    cacheCounter('gatekeeper_cache_misses_total', 'Cache lookups that missed, by cache (packuments, decisions, tokens, tarballs).', 'misses');
    new Gauge({
      name: 'gatekeeper_cache_entries',
      help: 'Entries held, by cache.',
      labelNames: ['cache'],
      registers,
      collect(this: Gauge<'cache'>) {
        this.reset();
        for (const [cache, source] of caches()) if (source) this.set({ cache }, source.stats().entries);
      },
    });

    this.upstreamLatency = new Histogram({
      name: 'gatekeeper_upstream_request_duration_seconds',
      help: 'Upstream calls from start to the last byte (or the error), by operation.',
      labelNames: ['operation'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'gatekeeper_upstream_errors_total',
      help: 'Upstream calls that failed, by operation and error code (EUPSTREAM, EUPSTREAMTIMEOUT, EUPSTREAMTOOLARGE, EINTEGRITY, ETARBALLORIGIN, ...).',
      labelNames: ['operation', 'code'],
      registers,
    });

    new Gauge({
      name: 'gatekeeper_db_pool_connections',
      help: 'The database pool: connections in use, idle, and callers waiting for one (pending) or being created.',
      labelNames: ['state'],
      registers,
      collect(this: Gauge<'state'>) {
        const pool = self.sources?.pool();
        if (!pool) return;
        this.set({ state: 'used' }, pool.numUsed());
        this.set({ state: 'free' }, pool.numFree());
        this.set({ state: 'pending' }, pool.numPendingAcquires());
        this.set({ state: 'creating' }, pool.numPendingCreates());
      },
    });
    new Gauge({
      name: 'gatekeeper_db_pool_max',
      help: 'The most connections the database pool opens.',
      registers,
      collect(this: Gauge) {
        const max = self.sources?.pool()?.max;
        if (typeof max === 'number') this.set(max);
      },
    });
    new Gauge({
      name: 'gatekeeper_listen_connected',
      help: '1 while the LISTEN connection that carries policy, token and advisory changes is up, else 0 (installs are denied meanwhile).',
      registers,
      collect(this: Gauge) {
        if (self.sources) this.set(self.sources.listener.connected ? 1 : 0);
      },
    });
    new Counter({
      name: 'gatekeeper_listen_disconnects_total',
      help: 'Times the LISTEN connection was lost.',
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(self.listenDisconnects);
      },
    });
    new Counter({
      name: 'gatekeeper_listen_slow_heartbeats_total',
      help: 'LISTEN heartbeats unanswered past their grace (6 s) on a link whose bytes the database host acknowledged: the database process is short of CPU; the connection counts as lost only after 30 s.',
      registers,
      collect(this: Counter) {
        this.reset();
        this.inc(self.listenSlowHeartbeats);
      },
    });
    new Gauge({
      name: 'gatekeeper_policy_trusted',
      help: '1 while the policy is loaded and trusted, else 0 (everything is refused with EPOLICYUNAVAILABLE).',
      registers,
      collect(this: Gauge) {
        if (self.sources) this.set(self.sources.policyTrusted() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'gatekeeper_audit_queue_depth',
      help: 'Audit entries waiting to be written (buffered or being written).',
      registers,
      collect(this: Gauge) {
        if (self.sources) this.set(self.sources.audit.health().pending);
      },
    });
    // A count kept by another part, read at scrape time.
    const sourceCounter = (name: string, help: string, read: (sources: MetricSources) => number) =>
      new Counter({
        name,
        help,
        registers,
        collect(this: Counter) {
          if (!self.sources) return;
          this.reset();
          this.inc(read(self.sources));
        },
      });
    sourceCounter('gatekeeper_audit_entries_written_total', 'Audit entries written to the database.', (s) => s.audit.health().written);
    sourceCounter('gatekeeper_audit_entries_dropped_total', 'Audit entries dropped (the database refused them, or too many were waiting).', (s) => s.audit.health().dropped);
    sourceCounter('gatekeeper_heap_reclaims_total', 'Full garbage collections this instance asked for after large packument builds or policy reloads (GATEKEEPER_HEAP_RECLAIM).', (s) => s.heap.stats().collections);
    sourceCounter('gatekeeper_heap_reclaim_seconds_total', 'Time those collections took (the event loop waits for each).', (s) => s.heap.stats().seconds);
    this.jobRuns = new Counter({
      name: 'gatekeeper_job_runs_total',
      help: 'Runs of each background job this instance finished (advisories refresh, feed sync, webhook delivery, ...), by outcome (ok, failed).',
      labelNames: ['job', 'outcome'],
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'gatekeeper_job_run_duration_seconds',
      help: 'How long each run of a background job on this instance took.',
      labelNames: ['job'],
      buckets: [0.05, 0.25, 1, 5, 15, 60, 300, 900],
      registers,
    });
    this.jobTakeovers = new Counter({
      name: 'gatekeeper_job_takeovers_total',
      help: 'Runs this instance took over from an instance whose lease had expired (it died or hung).',
      labelNames: ['job'],
      registers,
    });
    new Gauge({
      name: 'gatekeeper_job_healthy',
      help: "1 while a background job is healthy as this instance sees it (no claim error here, no error from the job's last run on any instance), else 0.",
      labelNames: ['job'],
      registers,
      collect(this: Gauge<'job'>) {
        this.reset();
        for (const [job, health] of Object.entries(self.sources?.jobs.health() ?? {})) this.set({ job: safeJob(job) }, health.ok ? 1 : 0);
      },
    });

    this.onClose = function onClose(this: ServerResponse) {
      self.countRequest(routeOf(this.req)?.route.name ?? UNLISTED_ROUTE, this.statusCode, errorCodeOf(this) ?? NO_CODE);
    };
  }

  /** Whether a connection from this address may read the metrics without credentials (GATEKEEPER_METRICS_ALLOW). */
  allows(address: string | null | undefined): boolean {
    return this.allow.has(address);
  }

  /** Starts reading the parts that count for themselves (called once the runtime exists). */
  watch(sources: MetricSources & { listener: { readonly connected: boolean; on(event: 'disconnected' | 'slow', fn: () => void): unknown } }): void {
    this.sources = sources;
    sources.listener.on('disconnected', () => {
      this.listenDisconnects++;
    });
    sources.listener.on('slow', () => {
      this.listenSlowHeartbeats++;
    });
    sources.jobs.onRun((run) => {
      const job = safeJob(run.name);
      this.jobRuns.inc({ job, outcome: run.ok ? 'ok' : 'failed' });
      this.jobDuration.observe({ job }, run.durationMs / 1000);
      if (run.takeover) this.jobTakeovers.inc({ job });
    });
  }

  /** Counts the request when its response closes (sent, refused or cut). */
  track(_req: IncomingMessage, res: ServerResponse): void {
    res.on('close', this.onClose);
  }

  countRequest(route: string, status: number, code: string): void {
    this.requests.bump(route, status, code);
  }

  /** A decision the policy evaluated (PolicyCache's onEvaluated). */
  decision(decision: Decision): void {
    this.decisions.bump(decision.allowed ? 'allowed' : 'denied', String(decision.code), ruleLabel(decision.ruleId));
  }

  /** A refused install that was served (GovernanceService's recordBlocked and recordTarballRefused): no string is built. */
  installBlocked(code: string, ruleId: string | null, via: string): void {
    this.blocked.bump(code, ruleLabel(ruleId), via);
  }

  /** One upstream call: its duration and, when it failed, its error code. */
  upstreamCall(operation: UpstreamOperation, seconds: number, code?: ErrorCode): void {
    const labels = UPSTREAM_LABELS[operation];
    this.upstreamLatency.observe(labels, seconds);
    if (code) this.upstreamErrors.inc({ operation, code });
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** Job names are ours (the JobRunner's registrations); bounded anyway to a label-safe form. */
function safeJob(job: string): string {
  return /^[A-Za-z0-9_.:-]{1,60}$/.test(job) ? job : 'other';
}
