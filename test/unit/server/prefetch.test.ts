import { DependencyPrefetcher, WarmContext } from '../../../src/server/registry/prefetch';

const context: WarmContext = { protocol: 'http', host: 'registry.test', abbreviated: true, audience: 'developer' };

/** A prefetcher whose builds wait until the test settles them. */
function controlled(options: { concurrency: number; maxQueued?: number; skip?: (name: string) => boolean }) {
  const builds = new Map<string, { resolve: () => void; reject: (err: Error) => void }>();
  const started: string[] = [];
  const prefetcher = new DependencyPrefetcher({
    concurrency: options.concurrency,
    maxQueued: options.maxQueued,
    keyOf: (name, c) => `${c.protocol}://${c.host} ${c.abbreviated} ${c.audience} ${name}`,
    skip: options.skip ?? (() => false),
    build: (name) =>
      new Promise<void>((resolve, reject) => {
        started.push(name);
        builds.set(name, { resolve, reject });
      }),
  });
  const settle = async (name: string, err?: Error) => {
    const build = builds.get(name)!;
    if (err) build.reject(err);
    else build.resolve();
    await new Promise((r) => setImmediate(r));
  };
  return { prefetcher, started, settle };
}

describe('DependencyPrefetcher', () => {
  it('runs at most `concurrency` builds at once, the rest in order as builds finish', async () => {
    const { prefetcher, started, settle } = controlled({ concurrency: 2 });
    prefetcher.warm(['a', 'b', 'c', 'd'], context);
    expect(started).toEqual(['a', 'b']);
    expect(prefetcher.stats()).toMatchObject({ running: 2, queued: 2, started: 2 });
    await settle('a');
    expect(started).toEqual(['a', 'b', 'c']);
    await settle('b', new Error('upstream down'));
    await settle('c');
    await settle('d');
    expect(prefetcher.stats()).toEqual({ started: 4, built: 3, failed: 1, dropped: 0, queued: 0, running: 0 });
  });

  it('builds each name once while it waits or runs, again after; skips what needs no build', async () => {
    const { prefetcher, started, settle } = controlled({ concurrency: 1, skip: (name) => name === 'stored' });
    prefetcher.warm(['a', 'b', 'stored'], context);
    prefetcher.warm(['a', 'b'], context);
    expect(started).toEqual(['a']);
    await settle('a');
    await settle('b');
    expect(started).toEqual(['a', 'b']);
    // Another form is another response.
    prefetcher.warm(['a'], { ...context, abbreviated: false });
    expect(started).toEqual(['a', 'b', 'a']);
  });

  it('drops names beyond the queue bound, and builds nothing with concurrency 0 or after close', async () => {
    const { prefetcher, started } = controlled({ concurrency: 1, maxQueued: 2 });
    prefetcher.warm(['a', 'b', 'c', 'd', 'e'], context);
    expect(started).toEqual(['a']);
    expect(prefetcher.stats()).toMatchObject({ queued: 2, dropped: 2 });
    prefetcher.close();
    expect(prefetcher.stats()).toMatchObject({ queued: 0 });
    prefetcher.warm(['f'], context);
    expect(started).toEqual(['a']);

    const off = controlled({ concurrency: 0 });
    off.prefetcher.warm(['a'], context);
    expect(off.started).toEqual([]);
    expect(off.prefetcher.stats()).toMatchObject({ started: 0, queued: 0 });
  });

  it('counts a build that throws at once as failed, and goes on', async () => {
    let calls = 0;
    const prefetcher = new DependencyPrefetcher({
      concurrency: 1,
      keyOf: (name) => name,
      skip: () => false,
      build: () => {
        calls++;
        if (calls === 1) throw new Error('synchronous');
        return Promise.resolve();
      },
    });
    prefetcher.warm(['a', 'b'], context);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(prefetcher.stats()).toMatchObject({ started: 2, built: 1, failed: 1, running: 0 });
  });
});
