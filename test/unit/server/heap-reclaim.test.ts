import v8 from 'node:v8';
import { HeapReclaimer, v8FullCollection } from '../../../src/server/heap-reclaim';
import { eventually } from '../../support/assert';

const MB = 1024 * 1024;

/** A reclaimer over a heap count the test sets, with collections it records. */
function scripted(options: { growthBytes: number; delayMs?: number; minIntervalMs?: number; afterCollection?: number }) {
  const state = { used: 100 * MB, collections: 0 };
  const reclaimer = new HeapReclaimer({
    ...options,
    heapUsed: () => state.used,
    collect: () => {
      state.collections++;
      if (options.afterCollection !== undefined) state.used = options.afterCollection;
    },
  });
  return { state, reclaimer };
}

describe('HeapReclaimer', () => {
  afterEach(() => jest.useRealTimers());

  it("collects V8's garbage of a large build once the heap grew past the threshold, and gives back the pages", async () => {
    // Garbage as a packument build leaves it: a large document parsed and dropped, with some of
    // its objects kept (scattered over the pages, as what a build caches is).
    const kept: unknown[] = [];
    const build = () => {
      const parsed = JSON.parse(JSON.stringify({ versions: Array.from({ length: 300_000 }, (_, i) => ({ version: `1.0.${i}`, dist: { shasum: `${i}`.padEnd(40, 'x') } })) }));
      (parsed.versions as unknown[]).forEach((v, i) => i % 20 === 0 && kept.push(v));
      return parsed as { versions: unknown[] };
    };
    v8FullCollection()();
    const reclaimer = new HeapReclaimer({ growthBytes: 16 * MB, delayMs: 1 });
    // Held while the reclaimer looks (so V8's own collections cannot have taken it yet), dropped before it collects.
    let doc: { versions: unknown[] } | undefined = build();
    expect(doc.versions).toHaveLength(300_000);
    const held = () => v8.getHeapStatistics().total_heap_size;
    const before = held();
    reclaimer.check();
    doc = undefined;
    expect(doc).toBeUndefined();
    await eventually(async () => reclaimer.stats().collections === 1, 'the collection', 60_000);
    const { lastBefore, lastAfter } = reclaimer.stats();
    expect(lastBefore! - lastAfter!).toBeGreaterThan(16 * MB);
    // The heap V8 holds shrinks with it: the pages are compacted, not only swept, so little is
    // held beyond what is in use (the young generation aside, which keeps its size).
    expect(before - held()).toBeGreaterThan(((lastBefore! - lastAfter!) * 3) / 4);
    const unused = v8
      .getHeapSpaceStatistics()
      .filter((space) => space.space_name !== 'new_space')
      .reduce((total, space) => total + space.space_size - space.space_used_size, 0);
    expect(unused).toBeLessThan(16 * MB);
    expect(kept.length).toBe(15_000);
    reclaimer.close();
  });

  it('asks for nothing while the heap has grown less than the threshold', () => {
    jest.useFakeTimers();
    const { state, reclaimer } = scripted({ growthBytes: 64 * MB });
    expect(reclaimer.stats().baselineBytes).toBe(state.used);
    state.used += 63 * MB;
    reclaimer.check();
    jest.advanceTimersByTime(60_000);
    expect(state.collections).toBe(0);
    state.used += 2 * MB;
    reclaimer.check();
    jest.advanceTimersByTime(999);
    expect(state.collections).toBe(0);
    jest.advanceTimersByTime(1);
    expect(state.collections).toBe(1);
    expect(reclaimer.stats()).toMatchObject({ collections: 1, lastBefore: 165 * MB, lastAfter: 165 * MB, baselineBytes: 165 * MB });
  });

  it('one collection per burst of builds, and at most one per minimum interval', () => {
    jest.useFakeTimers();
    const { state, reclaimer } = scripted({ growthBytes: 10 * MB, delayMs: 1000, minIntervalMs: 10_000, afterCollection: 100 * MB });
    state.used = 200 * MB;
    for (let i = 0; i < 5; i++) reclaimer.check();
    jest.advanceTimersByTime(1000);
    expect(state.collections).toBe(1);
    // Garbage again right after: the next collection waits for the interval since the last one.
    state.used = 200 * MB;
    reclaimer.check();
    jest.advanceTimersByTime(9999);
    expect(state.collections).toBe(1);
    jest.advanceTimersByTime(1);
    expect(state.collections).toBe(2);
  });

  it('moves its baseline to what a collection left: live growth does not cause repeated collections', () => {
    jest.useFakeTimers();
    // A cache filled up: the collection frees nothing.
    const { state, reclaimer } = scripted({ growthBytes: 10 * MB, delayMs: 1, minIntervalMs: 1, afterCollection: 150 * MB });
    state.used = 150 * MB;
    reclaimer.check();
    jest.advanceTimersByTime(10);
    expect(state.collections).toBe(1);
    reclaimer.check();
    jest.advanceTimersByTime(60_000);
    expect(state.collections).toBe(1);
    state.used = 161 * MB;
    reclaimer.check();
    jest.advanceTimersByTime(10);
    expect(state.collections).toBe(2);
  });

  it('with a threshold of 0 never collects', () => {
    jest.useFakeTimers();
    const { state, reclaimer } = scripted({ growthBytes: 0 });
    state.used = 10_000 * MB;
    reclaimer.check();
    jest.advanceTimersByTime(60_000);
    expect(state.collections).toBe(0);
    expect(reclaimer.stats().collections).toBe(0);
  });
});
