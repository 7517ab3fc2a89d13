/**
 * Batcher (src/services/batcher.ts): keys asked for together go into one run; with `immediate`,
 * a run starts at once and keys gather only while runs are out.
 */
import { Batcher } from '../../../src/services/batcher';

/** A run that records its keys and finishes when told to. */
function recordingRun() {
  const runs: string[][] = [];
  const finish: Array<() => void> = [];
  const run = (keys: string[]) => {
    runs.push(keys);
    return new Promise<void>((resolve) => finish.push(resolve));
  };
  return { run, runs, finishNext: () => finish.shift()?.() };
}

/** Lets every queued microtask run, but no timer, I/O or setImmediate callback. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('Batcher', () => {
  it('by default waits for the next turn, so keys added in this one share a run', async () => {
    const r = recordingRun();
    const batcher = new Batcher<string>(r.run, 1);
    const a = batcher.add(['a']);
    const b = batcher.add(['b', 'a']);
    await microtasks();
    expect(r.runs).toEqual([]);
    await nextTurn();
    await microtasks();
    expect(r.runs).toEqual([['a', 'b']]);
    r.finishNext();
    await expect(Promise.all([a, b])).resolves.toEqual([undefined, undefined]);
  });

  it('with immediate, starts a run without waiting for the next turn', async () => {
    const r = recordingRun();
    const batcher = new Batcher<string>(r.run, 1, true);
    const a = batcher.add(['a', 'b']);
    await microtasks();
    expect(r.runs).toEqual([['a', 'b']]);
    r.finishNext();
    await a;
  });

  it('with immediate, gathers the keys added while a run is out into one next run, and settles each caller with its run', async () => {
    const r = recordingRun();
    const batcher = new Batcher<string>(r.run, 1, true);
    const settled: string[] = [];
    const first = batcher.add(['a']).then(() => settled.push('a'));
    await microtasks();
    const second = batcher.add(['b']).then(() => settled.push('b'));
    const third = batcher.add(['c']).then(() => settled.push('c'));
    await nextTurn();
    expect(r.runs).toEqual([['a']]);
    r.finishNext();
    await first;
    await microtasks();
    expect(r.runs).toEqual([['a'], ['b', 'c']]);
    expect(settled).toEqual(['a']);
    r.finishNext();
    await Promise.all([second, third]);
    expect(settled).toEqual(['a', 'b', 'c']);
  });

  it('with immediate and two parallel runs, the second caller starts its own run at once', async () => {
    const r = recordingRun();
    const batcher = new Batcher<string>(r.run, 2, true);
    const a = batcher.add(['a']);
    const b = batcher.add(['b']);
    await microtasks();
    expect(r.runs).toEqual([['a'], ['b']]);
    r.finishNext();
    r.finishNext();
    await Promise.all([a, b]);
  });
});
