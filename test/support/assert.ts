import { GatekeeperError } from '../../src/core/errors';

/** Runs fn and returns the GatekeeperError it throws (fails the test otherwise). */
export function caught(fn: () => unknown): GatekeeperError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatekeeperError);
    return err as GatekeeperError;
  }
  throw new Error('expected a GatekeeperError, but nothing was thrown');
}

/** Polls until `check` is true: waits for a state, asserts no duration. */
export async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    // Checked once more after the deadline: a busy machine may have blocked the loop past it
    // (a synchronous collection, a starved CPU) while the state was reached.
    const late = Date.now() >= end;
    if (await check()) return;
    if (late) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}
