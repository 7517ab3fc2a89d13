import { GatekeeperError } from '../core/errors';
import { compilePolicy, CompiledPolicy, Decision, evaluate, EvaluationInput } from '../core/policy';
import type { PolicySnapshot } from '../core/policy';
import type { ChannelListener } from '../db/listener';

export interface PolicySource {
  loadSnapshot(): Promise<PolicySnapshot>;
}

export interface PolicyCacheOptions {
  source: PolicySource;
  /** The invalidation channel. The cache is trusted only while it is connected. */
  listener: Pick<ChannelListener, 'connected' | 'on' | 'barrier' | 'confirmWithinMs'>;
  /** The channel policy changes are announced on (POLICY_CHANNEL), for the barrier after a change. */
  channel?: string;
  /**
   * How long a request waits for the reload a change announced by another process started
   * (see settled()) before it is refused with EPOLICYUNAVAILABLE. Default 10 s.
   */
  settleMs?: number;
  maxDecisions?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
  /** Called with every decision evaluated (not with cached ones), e.g. to count it. */
  onEvaluated?: (decision: Decision) => void;
}

const unavailable = (why: string): GatekeeperError =>
  new GatekeeperError(
    'EPOLICYUNAVAILABLE',
    `the policy cannot be evaluated right now (${why}); nothing is served until it can. Retry shortly or ask an admin to check 'gatekeeper' health`,
  );

/**
 * The compiled policy and a decision cache: package name -> version -> decision, each entry
 * tagged with the policy generation it was computed under.
 *
 * Fail closed: `current()` throws EPOLICYUNAVAILABLE while the policy is not loaded, while
 * the LISTEN connection that carries invalidations is down, and after a reload failed.
 *
 * The policy is trusted only when it was read while the channel was listening, from before
 * the read began until after it ended: a change committed while nobody listened (its NOTIFY
 * is lost) is then in the snapshot. So every (re)connect reloads, a reload requested while
 * another is running runs again after it (the running one may have read too early), and a
 * reload that fails while connected is retried with a backoff.
 */
export class PolicyCache {
  private policy: CompiledPolicy | undefined;
  private failure: string | undefined = 'not loaded yet';
  /** name -> version -> decision: forgetting one package is one delete. */
  private readonly decisions = new Map<string, Map<string, { generation: number; decision: Decision }>>();
  private count = 0;
  private loading: Promise<void> | undefined;
  /** A reload requested while another was running: runs after it. */
  private queued: Promise<void> | undefined;
  /** Bumped on every connect and disconnect of the channel. */
  private channelEpoch = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelayMs = 0;
  /**
   * Changes announced by another process count up `announced`; a load that began after the
   * n-th announcement sets `covered` to n when it succeeds. While covered < announced the
   * loaded policy is older than one committed elsewhere: it is not served (see current()).
   */
  private announced = 0;
  private covered = 0;
  /** Woken whenever a load ends (settled() waits on them). */
  private loadWaiters: Array<() => void> = [];
  private readonly settleMs: number;
  private readonly maxDecisions: number;
  private readonly now: () => number;
  private readonly reloadListeners: Array<(policy: CompiledPolicy) => void> = [];
  /** Lookups of a cached decision (peek, and decide with a cacheable input). */
  hits = 0;
  misses = 0;

  constructor(private readonly options: PolicyCacheOptions) {
    this.maxDecisions = options.maxDecisions ?? 200_000;
    this.now = options.now ?? Date.now;
    this.settleMs = options.settleMs ?? 10_000;
    const { listener } = options;
    listener.on('disconnected', () => {
      this.channelEpoch++;
      this.failure = 'the invalidation channel to the database is disconnected';
    });
    listener.on('connected', () => {
      this.channelEpoch++;
      // Anything may have changed while we were not listening: nothing is trusted until
      // a snapshot read after this point has loaded.
      this.failure = 'reloading the policy after the invalidation channel reconnected';
      this.refresh();
    });
    listener.on('notification', (payload: string) => {
      const generation = Number(payload);
      if (!this.policy || !Number.isFinite(generation) || generation > this.policy.generation) {
        // From now on the loaded policy is older than one committed elsewhere: nothing is
        // decided with it (the fast path declines, the full path waits in settled()) until a
        // snapshot read after this point has loaded. This runs before the listener
        // acknowledges a barrier, so "acknowledged" means "no longer served".
        this.announced++;
        this.refresh();
      }
    });
  }

  /** Reloads in the background; a failure is reported and retried while the channel is up. */
  private refresh(): void {
    this.reload().then(
      () => {
        this.retryDelayMs = 0;
      },
      (err) => {
        this.options.onError?.(err);
        this.scheduleRetry();
      },
    );
  }

  private scheduleRetry(): void {
    if (this.retryTimer || !this.options.listener.connected) return;
    this.retryDelayMs = Math.min(30_000, this.retryDelayMs === 0 ? 250 : this.retryDelayMs * 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.options.listener.connected && this.failure !== undefined) this.refresh();
    }, this.retryDelayMs);
    this.retryTimer.unref();
  }

  get generation(): number | undefined {
    return this.policy?.generation;
  }

  /** Whether a change announced by another process is not loaded yet (see settled()). */
  get stale(): boolean {
    return this.covered < this.announced;
  }

  get healthy(): boolean {
    return this.failure === undefined && this.policy !== undefined && this.options.listener.connected;
  }

  get problem(): string | undefined {
    if (!this.options.listener.connected) return 'the invalidation channel to the database is disconnected';
    return this.failure;
  }

  /** Called with every newly loaded policy (e.g. to update Verdaccio's package rules). */
  onReload(listener: (policy: CompiledPolicy) => void): void {
    this.reloadListeners.push(listener);
    if (this.policy) listener(this.policy);
  }

  /**
   * Loads the policy from a snapshot read after this call. A load already running may have
   * read before the change the caller wants to see, so one more runs after it; all callers
   * meanwhile share that one.
   */
  reload(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => {
        this.loading = undefined;
      });
      return this.loading;
    }
    if (!this.queued) {
      this.queued = this.loading
        .catch(() => undefined)
        .then(() => {
          this.queued = undefined;
          return this.reload();
        });
    }
    return this.queued;
  }

  private async load(): Promise<void> {
    const listening = this.options.listener.connected;
    const epoch = this.channelEpoch;
    const announced = this.announced;
    try {
      const snapshot = await this.options.source.loadSnapshot();
      const compiled = compilePolicy(snapshot, undefined, this.policy);
      if (!this.policy || compiled.generation !== this.policy.generation) this.clear();
      this.policy = compiled;
      for (const listener of this.reloadListeners) listener(compiled);
      if (!this.options.listener.connected) {
        this.failure = 'the invalidation channel to the database is disconnected';
      } else if (!listening || epoch !== this.channelEpoch) {
        // The channel dropped or reconnected while we read: a change may have been missed.
        // The reconnect queued another load, which decides.
        this.failure = 'reloading the policy after the invalidation channel reconnected';
      } else {
        this.failure = undefined;
      }
      // The snapshot was read after every change announced before this load began.
      if (announced > this.covered) this.covered = announced;
    } catch (err) {
      this.failure = `loading the policy failed: ${(err as Error).message}`;
      throw err;
    } finally {
      const waiters = this.loadWaiters;
      this.loadWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /**
   * The policy to decide with, or EPOLICYUNAVAILABLE. While a change announced by another
   * process is not loaded yet (stale), it is the policy before the change: only requests already
   * under way use it (a request waits at its start, and again before it decides, in settled(),
   * and the fast path declines while stale), so an announcement never fails them.
   */
  current(): CompiledPolicy {
    const problem = this.problem;
    if (problem !== undefined || !this.policy) throw unavailable(problem ?? 'not loaded yet');
    return this.policy;
  }

  /**
   * The policy to decide with once every change announced so far is loaded: at once when it
   * is, else after the reload the announcement started (at most `settleMs`, then
   * EPOLICYUNAVAILABLE). The full path calls it before deciding, so a request that arrives
   * after an announcement is decided with the announced change, never with the policy before it.
   */
  async settled(): Promise<CompiledPolicy> {
    if (!this.stale) return this.current();
    const deadline = Date.now() + this.settleMs;
    while (this.stale && this.failure === undefined && this.options.listener.connected) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw unavailable(`a policy change made on another instance has not loaded within ${Math.round(this.settleMs / 1000)} s; the database may be slow`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.loadWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.current();
  }

  /**
   * After this process committed a policy change (its NOTIFY included): reloads here, then
   * waits until every listening process has handled the announcement (or the listener's
   * confirmation bound passed; see ChannelListener.barrier). A process that handled it serves
   * nothing decided by the policy before it. Resolves with whether every process confirmed.
   */
  async invalidated(): Promise<boolean> {
    await this.reload();
    const { channel } = this.options;
    if (channel === undefined) return true;
    return this.options.listener.barrier(channel, this.options.listener.confirmWithinMs);
  }

  private clear(): void {
    this.decisions.clear();
    this.count = 0;
  }

  /** Drops every package's decisions (an announcement of a package write may have been missed). */
  forgetAll(): void {
    this.clear();
  }

  /** Drops a package's decisions (its advisories changed). */
  forget(name: string): void {
    const versions = this.decisions.get(name);
    if (versions) {
      this.count -= versions.size;
      this.decisions.delete(name);
    }
  }

  /** The cached decision for a version if it is still current; never evaluates. */
  peek(policy: CompiledPolicy, name: string, version: string): Decision | undefined {
    const hit = this.decisions.get(name)?.get(version);
    if (hit && hit.generation === policy.generation && (hit.decision.validUntil === null || hit.decision.validUntil > this.now())) {
      this.hits++;
      return hit.decision;
    }
    this.misses++;
    return undefined;
  }

  /**
   * Decides one version, from the cache when the entry is current (same policy generation,
   * not past its `validUntil`). Only decisions made with the whole packument as context are cached.
   * Throws EPOLICYUNAVAILABLE.
   */
  decide(policy: CompiledPolicy, input: Omit<EvaluationInput, 'now'>, cacheable = true): Decision {
    const cached = cacheable ? this.peek(policy, input.name, input.version) : undefined;
    if (cached) return cached;
    let decision: Decision;
    try {
      decision = evaluate(policy, { ...input, now: this.now() });
    } catch (err) {
      throw unavailable(`evaluating ${input.name}@${input.version} failed: ${(err as Error).message}`);
    }
    this.options.onEvaluated?.(decision);
    if (!cacheable) return decision;
    if (this.count >= this.maxDecisions) {
      // Drop the package cached longest ago (Map keeps insertion order).
      const oldest = this.decisions.keys().next().value;
      if (oldest !== undefined) this.forget(oldest);
    }
    let versions = this.decisions.get(input.name);
    if (!versions) {
      versions = new Map();
      this.decisions.set(input.name, versions);
    }
    if (!versions.has(input.version)) this.count++;
    versions.set(input.version, { generation: policy.generation, decision });
    return decision;
  }

  get size(): number {
    return this.count;
  }

  stats(): { entries: number; hits: number; misses: number } {
    return { entries: this.count, hits: this.hits, misses: this.misses };
  }
}
