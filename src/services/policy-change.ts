import { mapDbError } from '../db/errors';
import type { Repositories, Store } from '../db/store';
import type { Actor } from './audit';
import type { PolicyCache } from './policy-cache';

/**
 * Every policy change goes through here: `fn` (which writes the change and its audit entry)
 * and a bump of the policy generation commit in one transaction; NOTIFY tells the other
 * processes at commit, and this process reloads before returning.
 */
export async function changePolicy<T>(store: Store, cache: PolicyCache, actor: Actor, what: string, fn: (repos: Repositories) => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await store.transaction(async (repos) => {
      const value = await fn(repos);
      await repos.policy.bumpGeneration(actor.username);
      return value;
    });
  } catch (err) {
    throw mapDbError(err, what);
  }
  await cache.reload();
  return result;
}
