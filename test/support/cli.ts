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
