import type { Packument } from '../../src/core/packument';
import { GATE_PLUGINS, GatekeeperRuntime, runtimeFor } from '../../src/server/runtime';

/**
 * Filter plugin: applies the policy wherever Verdaccio itself reads metadata (search, the
 * tarball route's own check). Verdaccio serves unfiltered data when a filter throws, so this
 * never throws: on any error it returns the package with no versions at all.
 */
export default class GatekeeperFilter {
  private readonly runtime: GatekeeperRuntime;

  constructor(config: unknown) {
    this.runtime = runtimeFor(config, GATE_PLUGINS.filter);
    this.runtime.pluginLoaded(GATE_PLUGINS.filter);
  }

  async filter_metadata(manifest: Packument): Promise<Packument> {
    // Our gate reads the unfiltered document and decides itself.
    if (this.runtime.requestContext.getStore()?.raw) return manifest;
    try {
      return this.runtime.governance.filterPackument(manifest).packument;
    } catch (err) {
      this.runtime.logger.error({ err, package: manifest?.name }, 'filter failed; serving no versions');
      return { ...manifest, versions: {}, 'dist-tags': {}, time: {} };
    }
  }
}
