import { isIPv4, isIPv6 } from 'node:net';
import { GatekeeperError } from '../core/errors';
import type { ThrottleBucket, ThrottleScope } from '../db/repositories/login-throttle';
import type { Store } from '../db/store';
import { auditEntry } from './audit';
import { isUsername } from '../core/names';

/** How many failed password checks a username and an address may have in one window. */
export interface LoginThrottleLimits {
  maxFailuresPerUser: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

export const DEFAULT_LOGIN_THROTTLE: LoginThrottleLimits = {
  maxFailuresPerUser: 10,
  maxFailuresPerAddress: 30,
  windowMs: 15 * 60_000,
};


/**
 * The counter key of a username: lower-cased; anything that cannot be a username (Basic
 * credentials carry any text) shares one key, so hostile text never reaches the database.
 */
export function usernameKey(username: string): string {
  const lower = username.toLowerCase();
  return isUsername(lower) ? lower : '$invalid';
}

/**
 * The counter key of a client address: IPv4 as it is (also when mapped into IPv6), IPv6 by
 * its /64, the block one host usually holds. Undefined when there is no usable address.
 */
export function addressKey(ip: string | null | undefined): string | undefined {
  if (!ip) return undefined;
  let address = ip.trim();
  const zone = address.indexOf('%');
  if (zone >= 0) address = address.slice(0, zone);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) address = mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return undefined;
  const groups = expandIPv6(address.toLowerCase());
  return `${groups.slice(0, 4).join(':')}::/64`;
}

function expandIPv6(address: string): string[] {
  let text = address;
  // An embedded IPv4 tail (::1.2.3.4) as two groups.
  const tail = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number);
    text = `${text.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest !== undefined && rest !== '' ? rest.split(':') : [];
  const fill = rest === undefined ? [] : new Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => Number.parseInt(g, 16).toString(16));
}

interface Bucket {
  scope: ThrottleScope;
  key: string;
  limit: number;
}

/** A password check in progress: its attempt is counted until it is known to be right. */
export interface LoginAttempt {
  /** The password was wrong (or the check refused): counts stay, and the audit learns of it within bounds. */
  failed(reason: string): Promise<void>;
  /** The password was right, or could not be checked (a database error): the attempt is taken back. */
  release(): Promise<void>;
}

/**
 * Throttles failed password checks per username and per client address, with counters in
 * the database (shared by every gatekeeper on it). An attempt is counted before its password
 * is checked, so parallel guesses cannot overrun the limit; over the limit, the check is
 * refused with ETOOMANYATTEMPTS and a Retry-After before any hashing.
 *
 * The audit log gets at most two rows per username or address and window: `user.login_refused`
 * at the window's first failure and `user.login_throttled` when the limit is reached.
 */
export class LoginThrottle {
  private lastPrune = 0;

  constructor(
    private readonly store: Store,
    readonly limits: LoginThrottleLimits = DEFAULT_LOGIN_THROTTLE,
  ) {}

  /**
   * Starts a check. Without a username (a sign-in through the identity provider, whose user is
   * known only once its answer is checked), only the address is counted.
   */
  async begin(username: string | undefined, ip: string | null | undefined): Promise<LoginAttempt> {
    this.maybePrune();
    const repo = this.store.repos.loginThrottle;
    const address = addressKey(ip);
    // The address first: a throttled address creates no counters for the names it tries.
    const buckets: Bucket[] = [];
    if (address) buckets.push({ scope: 'address', key: address, limit: this.limits.maxFailuresPerAddress });
    if (username !== undefined) buckets.push({ scope: 'user', key: usernameKey(username), limit: this.limits.maxFailuresPerUser });

    const reserved: Array<Bucket & ThrottleBucket> = [];
    for (const bucket of buckets) {
      const reservation = await repo.reserve(bucket.scope, bucket.key, this.limits.windowMs);
      if (reservation.attempts > bucket.limit) {
        await repo.block(reservation);
        await repo.release(reserved);
        const seconds = Math.max(1, Math.ceil(reservation.secondsLeft));
        const whose = bucket.scope === 'user' ? 'for this username' : 'from your address';
        throw new GatekeeperError(
          'ETOOMANYATTEMPTS',
          `too many failed password checks ${whose}. Wait ${seconds} seconds before trying again (Retry-After); if you forgot the password, ask an admin`,
          undefined,
          { retryAfter: seconds },
        );
      }
      reserved.push({ ...bucket, generation: reservation.generation });
    }

    let settled = false;
    return {
      failed: async (reason: string) => {
        if (settled) return;
        settled = true;
        await this.recordFailure(reserved, reason, ip);
      },
      release: async () => {
        if (settled) return;
        settled = true;
        await repo.release(reserved);
      },
    };
  }

  private async recordFailure(buckets: Array<Bucket & ThrottleBucket>, reason: string, ip: string | null | undefined): Promise<void> {
    const repo = this.store.repos.loginThrottle;
    const refused = await repo.flagRefused(buckets);
    const throttled = await repo.flagThrottled(buckets);
    const limitOf = (scope: ThrottleScope) => (scope === 'user' ? this.limits.maxFailuresPerUser : this.limits.maxFailuresPerAddress);
    const actorOf = (b: { scope: ThrottleScope; key: string }) => ({ username: b.scope === 'user' ? b.key : '$anonymous', ip: ip ?? null });
    const windowMinutes = Math.round(this.limits.windowMs / 60_000);
    const entries = [
      ...refused.map((b) =>
        auditEntry(actorOf(b), 'user.login_refused', {
          details: { scope: b.scope, key: b.key, reason, failures: b.attempts, limit: limitOf(b.scope), windowMinutes },
        }),
      ),
      ...throttled.map((b) =>
        auditEntry(actorOf(b), 'user.login_throttled', {
          details: { scope: b.scope, key: b.key, failures: b.attempts, limit: limitOf(b.scope), windowMinutes },
        }),
      ),
    ];
    if (entries.length > 0) await this.store.repos.audit.saveMany(entries);
  }

  /** Expired counters are deleted at most once per window (or minute), off the request's path. */
  private maybePrune(): void {
    const now = Date.now();
    if (now - this.lastPrune < Math.min(this.limits.windowMs, 60_000)) return;
    this.lastPrune = now;
    this.store.repos.loginThrottle.prune().catch(() => {
      this.lastPrune = 0;
    });
  }
}
