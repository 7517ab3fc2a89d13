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
  listener: ChannelListener;
  maxDecisions?: number;
  now?: () => number;
  onError?: (err: unknown) => void;
}

const unavailable = (why: string): GatekeeperError =>
  new GatekeeperError(
    'EPOLICYUNAVAILABLE',
    `the policy cannot be evaluated right now (${why}); nothing is served until it can. Retry shortly or ask an admin to check 'gatekeeper' health`,
  );

/**
 * The compiled policy and a decision cache keyed `pkg:npm:<name>:<version>`, each entry
 * tagged with the policy generation it was computed under.
 *
 * Fail closed: `current()` throws EPOLICYUNAVAILABLE while the policy is not loaded, while
 * the LISTEN connection that carries invalidations is down, and after a reload failed.
 */
export class PolicyCache {
  private policy: CompiledPolicy | undefined;
  private failure: string | undefined = 'not loaded yet';
  /** name -> version -> decision: forgetting one package is one delete. */
  private readonly decisions = new Map<string, Map<string, { generation: number; decision: Decision }>>();
  private count = 0;
  private loading: Promise<void> | undefined;
  private readonly maxDecisions: number;
  private readonly now: () => number;
  private readonly reloadListeners: Array<(policy: CompiledPolicy) => void> = [];

  constructor(private readonly options: PolicyCacheOptions) {
    this.maxDecisions = options.maxDecisions ?? 200_000;
    this.now = options.now ?? Date.now;
    const { listener } = options;
    listener.on('disconnected', () => {
      this.failure = 'the invalidation channel to the database is disconnected';
    });
    listener.on('connected', () => {
      // Anything may have changed while we were not listening.
      this.reload().catch((err) => options.onError?.(err));
    });
    listener.on('notification', (payload: string) => {
      const generation = Number(payload);
      if (!this.policy || !Number.isFinite(generation) || generation > this.policy.generation) {
        this.reload().catch((err) => options.onError?.(err));
      }
    });
  }

  get generation(): number | undefined {
    return this.policy?.generation;
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

  /** Loads the policy now; concurrent callers share one load. */
  reload(): Promise<void> {
    if (!this.loading) {
      this.loading = this.load().finally(() => {
        this.loading = undefined;
      });
    }
    return this.loading;
  }

  private async load(): Promise<void> {
    try {
      const snapshot = await this.options.source.loadSnapshot();
      const compiled = compilePolicy(snapshot);
      if (!this.policy || compiled.generation !== this.policy.generation) this.clear();
      this.policy = compiled;
      for (const listener of this.reloadListeners) listener(compiled);
      this.failure = this.options.listener.connected ? undefined : 'the invalidation channel to the database is disconnected';
    } catch (err) {
      this.failure = `loading the policy failed: ${(err as Error).message}`;
      throw err;
    }
  }

  /** The policy to decide with, or EPOLICYUNAVAILABLE. */
  current(): CompiledPolicy {
    const problem = this.problem;
    if (problem !== undefined || !this.policy) throw unavailable(problem ?? 'not loaded yet');
    return this.policy;
  }

  private clear(): void {
    this.decisions.clear();
    this.count = 0;
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
      return hit.decision;
    }
    return undefined;
  }

  /**
   * Decides one version (`pkg:npm:<name>:<version>`), from the cache when the entry is
   * current. Only decisions made with the whole packument as context are cached.
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
}
