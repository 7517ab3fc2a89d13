/**
 * NameIndex (src/services/name-index.ts): which packages the database holds rows for, loaded
 * after LISTEN, grown by announcements, also those made while it loads.
 */
import { NameIndex } from '../../../src/services/name-index';

/** A read that answers when told to. */
function deferredRead(names: string[]) {
  let answer: () => void = () => undefined;
  const read = jest.fn(() => new Promise<string[]>((resolve) => (answer = () => resolve(names))));
  return { read, answer: () => answer() };
}

describe('NameIndex', () => {
  it('knows nothing until loaded: every name may have rows', async () => {
    const index = new NameIndex(async () => ['a']);
    expect(index.loaded).toBe(false);
    expect(index.mayHave('a')).toBe(true);
    expect(index.mayHave('b')).toBe(true);
    await index.load();
    expect(index.loaded).toBe(true);
    expect(index.mayHave('a')).toBe(true);
    expect(index.mayHave('b')).toBe(false);
    index.add('b');
    expect(index.mayHave('b')).toBe(true);
  });

  it('keeps a name added while its read runs (the read may predate that commit)', async () => {
    const { read, answer } = deferredRead(['a']);
    const index = new NameIndex(read);
    const loading = index.load();
    index.add('late');
    answer();
    await loading;
    expect(index.mayHave('late')).toBe(true);
    expect(index.mayHave('a')).toBe(true);
    expect(index.mayHave('other')).toBe(false);
  });

  it('forgets: a load that was running when it forgot does not count, the next one does', async () => {
    const first = deferredRead(['stale']);
    const second = deferredRead(['fresh']);
    const reads = [first, second];
    const index = new NameIndex(() => reads.shift()!.read());
    const running = index.load();
    index.forget();
    const next = index.load();
    first.answer();
    await running;
    expect(index.loaded).toBe(false);
    second.answer();
    await next;
    expect(index.mayHave('fresh')).toBe(true);
    expect(index.mayHave('stale')).toBe(false);
  });
});
