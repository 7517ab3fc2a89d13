import { DEFAULTS, Settings } from '../../../src/server/config';
import { buildVerdaccioConfig } from '../../../src/server/verdaccio-config';

describe("Verdaccio's configuration", () => {
  it('never lets Verdaccio log request URLs (npm logout and token revoke put tokens in them), at any gatekeeper log level', () => {
    for (const logLevel of ['trace', 'debug', 'info', 'warn', 'error']) {
      const settings = { ...DEFAULTS, logLevel } as unknown as Settings;
      const config = buildVerdaccioConfig({ settings, upstream: 'http://127.0.0.1:1/', instance: 'x', pluginsDir: '/tmp', publishRules: [] }) as { log: { level: string } };
      // Verdaccio logs each request at its 'http' level, which sits between warn and info.
      expect({ logLevel, verdaccio: config.log.level }).toEqual({ logLevel, verdaccio: 'warn' });
    }
  });
});
