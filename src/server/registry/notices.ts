import type { IncomingMessage, ServerResponse } from 'node:http';
import { SOURCE_NOTICE, toHeaderValue } from '../../core/packument';
import type { GatekeeperRuntime } from '../runtime';

/**
 * Notices that concern the whole install rather than one package (so far: the advisory source
 * is unreachable) are sent at most once per install. An install is npm's session (the
 * `npm-session` header it sends with every request of one command); clients without one
 * (pnpm, yarn, bun) are told at most once per window per address and user agent.
 */
export class OncePerInstall {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs = 10 * 60_000,
    private readonly maxKeys = 10_000,
  ) {}

  /** True the first time a key is seen within the window (the caller then sends the notice). */
  take(key: string, now: number): boolean {
    const at = this.seen.get(key);
    if (at !== undefined && now - at < this.windowMs) return false;
    this.seen.delete(key);
    this.seen.set(key, now);
    // Oldest first: bounded memory.
    for (const oldest of this.seen.keys()) {
      if (this.seen.size <= this.maxKeys) break;
      this.seen.delete(oldest);
    }
    return true;
  }
}

export function installKey(req: IncomingMessage): string {
  const session = req.headers['npm-session'];
  if (typeof session === 'string' && session.length > 0) return `session:${session.slice(0, 64)}`;
  return `client:${req.socket.remoteAddress ?? ''} ${String(req.headers['user-agent'] ?? '').slice(0, 200)}`;
}

const TRACKERS = new WeakMap<GatekeeperRuntime, OncePerInstall>();

/**
 * Adds the advisory-source notice to a successful response when the source is unreachable,
 * the advisory rule is on, and this install has not been told yet. The response then must not
 * be stored by npm (it prints notices only for responses it did not take from its cache).
 * Never throws: a notice is never a reason to fail a response.
 */
export function addInstallNotices(runtime: GatekeeperRuntime, req: IncomingMessage, res: ServerResponse): void {
  try {
    if (runtime.advisories.reachable) return;
    const policy = runtime.governance.cache.current();
    if (policy.rules.advisories.mode === 'off') return;
    let once = TRACKERS.get(runtime);
    if (!once) {
      once = new OncePerInstall();
      TRACKERS.set(runtime, once);
    }
    if (!once.take(installKey(req), Date.now())) return;
    const existing = res.getHeader('npm-notice');
    res.setHeader('npm-notice', toHeaderValue(existing ? `${String(existing)} | ${SOURCE_NOTICE}` : SOURCE_NOTICE));
    res.setHeader('cache-control', 'no-store');
  } catch {
    // no notice
  }
}
