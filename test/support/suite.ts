/**
 * The setup most integration suites share: a fixture upstream, a gatekeeper in front of it, the
 * policy mode set, and an npm client pointed at the gatekeeper, started in beforeAll and closed in
 * afterAll. Call `gatekeeperSuite()` in a describe block; the returned object's fields are set by
 * its beforeAll, so read them inside hooks and tests only.
 *
 * Hooks run in the order they are registered: a beforeAll registered before this call runs first
 * (start what a settings function needs there), one registered after runs once everything is up;
 * likewise an afterAll registered before this call runs before the gatekeeper closes.
 */
import type { Settings } from '../../src/server/config';
import type { PolicyMode } from '../../src/core/policy';
import { FixturePackage, FixtureRegistry, FixtureRegistryOptions, startFixtureRegistry } from './fixture-registry';
import { startTestGatekeeper, TestGatekeeper, TestGatekeeperOptions } from './gatekeeper';
import { createNpmEnv, NpmEnv } from './npm';

export interface GatekeeperSuiteOptions<N extends boolean> {
  /** The fixture upstream's packages; a function is called in beforeAll (e.g. publish times relative to then). */
  packages?: FixturePackage[] | (() => FixturePackage[]);
  fixture?: FixtureRegistryOptions;
  /** Gatekeeper settings; a function is called in beforeAll, after the beforeAll hooks registered earlier. */
  settings?: Partial<Settings> | (() => Partial<Settings>);
  /** Other startTestGatekeeper options (database, plugins, start options). */
  gatekeeper?: Omit<TestGatekeeperOptions, 'upstream' | 'settings'>;
  /** The policy mode set once the gatekeeper is up (default 'open'); 'none' leaves the policy as it starts. */
  policyMode?: PolicyMode | 'none';
  /** Whether to create an npm environment pointed at the gatekeeper (default true). */
  npm?: N;
}

export interface GatekeeperSuite {
  upstream: FixtureRegistry;
  t: TestGatekeeper;
}

export type GatekeeperSuiteWith<N extends boolean> = GatekeeperSuite & (N extends false ? Record<never, never> : { npm: NpmEnv });

export function gatekeeperSuite<N extends boolean = true>(options: GatekeeperSuiteOptions<N> = {}): GatekeeperSuiteWith<N> {
  const started: Partial<GatekeeperSuite & { npm: NpmEnv }> = {};

  beforeAll(async () => {
    const packages = typeof options.packages === 'function' ? options.packages() : (options.packages ?? []);
    started.upstream = await startFixtureRegistry(packages, options.fixture);
    const settings = typeof options.settings === 'function' ? options.settings() : options.settings;
    started.t = await startTestGatekeeper({ ...options.gatekeeper, upstream: started.upstream.url, settings });
    const mode = options.policyMode ?? 'open';
    if (mode !== 'none') {
      const res = await started.t.api('PATCH', '/policy', { mode });
      if (res.status !== 200) throw new Error(`setting the policy mode to ${mode} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
    if (options.npm !== false) started.npm = await createNpmEnv(started.t.url);
  });

  // Closes whatever beforeAll started, even when it failed halfway, and tries every step.
  afterAll(async () => {
    const errors: unknown[] = [];
    for (const close of [() => started.npm?.cleanup(), () => started.t?.close(), () => started.upstream?.close()]) {
      await Promise.resolve()
        .then(close)
        .catch((err: unknown) => errors.push(err));
    }
    if (errors.length > 0) throw errors.length === 1 ? errors[0] : new AggregateError(errors, 'suite teardown failed');
  });

  return started as GatekeeperSuiteWith<N>;
}
