import type { Command } from '../command';

export const start: Command = {
  name: 'start',
  forms: [''],
  flags: {},
  summary: 'Start the registry (settings from GATEKEEPER_* variables or GATEKEEPER_CONFIG)',
  async run() {
    // Loaded on demand: the other commands do not need Verdaccio.
    const { startGatekeeper } = await import('../../server/start');
    await startGatekeeper({ handleSignals: true });
    // Runs until SIGINT/SIGTERM, which close it and exit.
    return new Promise<number>(() => undefined);
  },
};
