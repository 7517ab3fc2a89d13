import type { Output } from '../../src/cli/output';

/** Captures what a CLI command prints. */
export function captureIo(): Output & { out: (t: string) => void; outText(): string; errText(): string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    outText: () => out.join('\n'),
    errText: () => err.join('\n'),
  };
}

/** Runs the gatekeeper CLI in-process with the given environment and captures its output. */
export async function runGatekeeper(env: NodeJS.ProcessEnv, argv: string[], stdin?: string): Promise<{ code: number; out: string; err: string }> {
  // Loaded lazily so tests that only capture output do not load the whole CLI.
  const { main } = await import('../../src/cli/main');
  const io = captureIo();
  const code = await main(argv, io, env, async () => stdin ?? '');
  return { code, out: io.outText(), err: io.errText() };
}
