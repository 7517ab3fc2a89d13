import path from 'node:path';
import { parseDuration } from '../core/duration';
import type { PublishRule } from '../core/publish';
import { packageRules } from './registry/private';
import { GATE_PLUGINS } from './runtime';
import { UPLINK_NAME } from './upstream-gateway';
import type { Settings } from './config';

export interface VerdaccioConfigInput {
  settings: Settings;
  /** The uplink URL: the upstream gateway's, never the upstream's own. */
  upstream: string;
  /** The runtime id our plugins look up. */
  instance: string;
  pluginsDir: string;
  /** Private names get no proxy (see registry/private.ts). */
  publishRules: readonly PublishRule[];
}

/**
 * Verdaccio's configuration, built in code. Access rules are `$all` here because our auth
 * plugin and gate decide; Verdaccio's web UI is off (it would be another read path).
 */
export function buildVerdaccioConfig(input: VerdaccioConfigInput): Record<string, unknown> {
  const { settings } = input;
  const pluginConfig = { instance: input.instance };
  return {
    // Verdaccio resolves relative paths against this file's directory; it need not exist.
    configPath: path.join(settings.dataDir, 'verdaccio.yaml'),
    self_path: path.join(settings.dataDir, 'verdaccio.yaml'),
    storage: path.join(settings.dataDir, 'storage'),
    plugins: input.pluginsDir,
    uplinks: {
      // Our upstream gateway (see upstream-gateway.ts), which validates every document and
      // answers within GATEKEEPER_UPSTREAM_TIMEOUT; Verdaccio's own timeout only backs it up.
      [UPLINK_NAME]: {
        url: input.upstream,
        timeout: `${Math.ceil(parseDuration(settings.upstreamTimeout) / 1000) + 10}s`,
        maxage: settings.upstreamMaxage,
        fail_timeout: '10s',
        max_fails: 3,
        cache: true,
      },
    },
    packages: packageRules(input.publishRules),
    auth: { [GATE_PLUGINS.auth]: pluginConfig },
    filters: { [GATE_PLUGINS.filter]: pluginConfig },
    middlewares: { [GATE_PLUGINS.middleware]: pluginConfig },
    // Package documents and tarballs through the runtime's storage, with its package locks.
    store: { [GATE_PLUGINS.storage]: pluginConfig },
    max_body_size: settings.maxBodySize,
    web: { enable: false },
    // Warnings and errors only, whatever GATEKEEPER_LOG_LEVEL says: at info and below Verdaccio logs
    // every request's URL, and some URLs carry secrets (npm logout's and token revoke's token, the
    // web login's done secret).
    log: { type: 'stdout', format: process.stdout.isTTY ? 'pretty' : 'json', level: 'warn' },
    // express's req.ip (actors, login throttling) believes X-Forwarded-For only from these.
    server: { keepAliveTimeout: 60, ...(settings.trustProxy.length > 0 ? { trustProxy: settings.trustProxy.join(',') } : {}) },
  };
}
