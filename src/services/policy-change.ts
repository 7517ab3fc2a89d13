import { mapDbError } from '../db/errors';
import type { Repositories, Store } from '../db/store';
import type { Actor } from './audit';
import type { PolicyCache } from './policy-cache';

/** What a change was, for those told of it (the policy.changed webhook event). */
export interface PolicyChange {
  what: string;
  by: string;
  generation: number | undefined;
}

const changeListeners = new WeakMap<PolicyCache, Array<(change: PolicyChange) => void>>();

/**
 * Calls `listener` after every policy change this process makes through `cache` (not those
 * other processes make: each change is told once, where it was made). Listeners must not throw.
 */
export function onPolicyChanged(cache: PolicyCache, listener: (change: PolicyChange) => void): void {
  changeListeners.set(cache, [...(changeListeners.get(cache) ?? []), listener]);
}

/** What a change's `fn` returns when, read under the lock, there is nothing to change: nothing is bumped, announced or told. */
export const NO_CHANGE: unique symbol = Symbol('no policy change');

/**
 * Every policy change goes through here: `fn` (which writes the change and its audit entry)
 * and a bump of the policy generation commit in one transaction, which holds the policy's
 * state row from its start (changes one after another: `fn` reads what it merges into inside
 * it, through `repos`, so no concurrent change is lost); NOTIFY tells the other
 * processes at commit. It returns after this process has reloaded and every listening process
 * has handled the announcement (from then on none decides with the policy before it), or
 * after the listener's confirmation bound, by which a process that did not confirm has stopped
 * trusting its caches (PolicyCache.invalidated, ChannelListener.barrier).
 */
export async function changePolicy<T>(store: Store, cache: PolicyCache, actor: Actor, what: string, fn: (repos: Repositories) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await store.transaction(async (repos) => {
      await repos.policy.lockState();
      const value = await fn(repos);
      if ((value as unknown) !== NO_CHANGE) await repos.policy.bumpGeneration(actor.username);
      return value;
    });
  } catch (err) {
    throw mapDbError(err, what);
  }
  if ((result as unknown) === NO_CHANGE) return result;
  await cache.invalidated();
  for (const listener of changeListeners.get(cache) ?? []) {
    try {
      listener({ what, by: actor.username, generation: cache.generation });
    } catch {
      // A listener's failure is its own (the change is made).
    }
  }
  return result;
}
