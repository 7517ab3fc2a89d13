import { AsyncLocalStorage } from 'node:async_hooks';
import type { PackageLock } from '../core/storage';
import { lockTimeoutError, LockSession, LockSessions } from '../db/package-lock';

/**
 * A package's storage lock (core/storage.ts PackageLock): an in-process queue per package in
 * front of the cross-instance advisory lock (db/package-lock.ts).
 *
 * - Within one process, writers of a package queue here, so at most one database connection
 *   per package and process waits for or holds the advisory lock.
 * - One bound covers the whole wait (queue and database): past it the caller gets
 *   ELOCKTIMEOUT and nothing of its write happens.
 * - Re-entrant: code running inside `lock(a)` that calls `lock(a)` runs at once, and a nested
 *   `lock(b)` takes b's advisory lock in the same transaction (no second connection, so
 *   nesting cannot exhaust the pool). Verdaccio's updatePackage saves through savePackage,
 *   and adding to its package list happens inside a package's update: both nest.
 */

interface Held {
  names: Set<string>;
  session: LockSession;
}

export interface PackageLocksOptions {
  /** The longest a writer waits for a package's lock, in total. */
  waitMs: number;
}

export class PackageLocks implements PackageLock {
  private readonly held = new AsyncLocalStorage<Held>();
  /** Per package: the tail of its in-process queue. */
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly sessions: LockSessions,
    private readonly options: PackageLocksOptions,
  ) {}

  async lock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const outer = this.held.getStore();
    if (outer?.names.has(name)) return fn();
    const deadline = Date.now() + this.options.waitMs;
    const release = await this.enqueue(name, deadline);
    try {
      if (outer) {
        await outer.session.acquire(name, Math.max(1, deadline - Date.now()));
        return await this.held.run({ names: new Set([...outer.names, name]), session: outer.session }, fn);
      }
      const session = await this.sessions.open(this.options.waitMs);
      try {
        await session.acquire(name, Math.max(1, deadline - Date.now()));
        return await this.held.run({ names: new Set([name]), session }, fn);
      } finally {
        await session.release();
      }
    } finally {
      release();
    }
  }

  /** Waits for this process's earlier writers of the package, at most until the deadline. */
  private enqueue(name: string, deadline: number): Promise<() => void> {
    const before = this.queues.get(name) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    // The queue moves on when this writer is done or gave up, whichever comes first.
    const tail = before.then(() => mine);
    this.queues.set(name, tail);
    void tail.then(() => {
      if (this.queues.get(name) === tail) this.queues.delete(name);
    });
    const release = () => done();
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      before.then(() => release),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Gave up: the writers behind it wait only for the ones before it.
          release();
          reject(lockTimeoutError(name, this.options.waitMs));
        }, Math.max(1, deadline - Date.now()));
        timer.unref();
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

/** For tests and single-process tools: a lock that serialises nothing. */
export const NO_LOCK = { lock: <T>(_name: string, fn: () => Promise<T>): Promise<T> => fn() };
