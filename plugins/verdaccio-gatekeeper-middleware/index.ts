import type { Application } from 'express';
import { GATE_PLUGINS, GatekeeperRuntime, runtimeFor, VerdaccioStorage } from '../../src/server/runtime';

/** Middleware plugin: mounts the admin API, npm login and the gate ahead of Verdaccio's routes. */
export default class GatekeeperMiddleware {
  private readonly runtime: GatekeeperRuntime;

  constructor(config: unknown) {
    this.runtime = runtimeFor(config, GATE_PLUGINS.middleware);
  }

  register_middlewares(app: Application, _auth: unknown, storage: VerdaccioStorage): void {
    this.runtime.mount(app, storage);
    this.runtime.pluginLoaded(GATE_PLUGINS.middleware);
  }
}
