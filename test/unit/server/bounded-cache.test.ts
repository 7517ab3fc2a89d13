/**
 * The store under the packument and tarball caches: bounded by cost, least recently used
 * dropped first, where a read moves its entry only once more than half of the map was put
 * after it (so hot entries are not moved, and the Map not rebuilt, on every read), and an
 * entry that stays in use is moved before eviction reaches it.
 */
import { BoundedCache } from '../../../src/server/registry/bounded-cache';

const cache = () => new BoundedCache<{ cost: number }>((key) => key.split('/')[0], (v) => v.cost);
const held = (c: BoundedCache<{ cost: number }>, keys: string[]) => keys.filter((k) => c.peek(k) !== undefined);

describe('BoundedCache', () => {
  it('keeps the sum of costs within the limit, dropping the oldest first', () => {
    const c = cache();
    for (const k of ['a/1', 'b/1', 'c/1', 'd/1']) c.put(k, { cost: 10 }, 30);
    expect(held(c, ['a/1', 'b/1', 'c/1', 'd/1'])).toEqual(['b/1', 'c/1', 'd/1']);
    expect(c.bytes).toBe(30);
    expect(c.size).toBe(3);
  });

  it('replaces an entry put again under the same key, counting its new cost', () => {
    const c = cache();
    c.put('a/1', { cost: 10 }, 100);
    c.put('a/1', { cost: 25 }, 100);
    expect(c.size).toBe(1);
    expect(c.bytes).toBe(25);
    expect(c.keys.of('a')).toEqual(['a/1']);
  });

  it('saves an entry read while it is among the older half from the next eviction', () => {
    const c = cache();
    for (const k of ['a/1', 'b/1', 'c/1', 'd/1']) c.put(k, { cost: 10 }, 40);
    // a/1 is the oldest of four, three were put after it: it moves.
    expect(c.use('a/1')).toEqual({ cost: 10 });
    c.put('e/1', { cost: 10 }, 40);
    expect(held(c, ['a/1', 'b/1', 'c/1', 'd/1', 'e/1'])).toEqual(['a/1', 'c/1', 'd/1', 'e/1']);
  });

  it('leaves an entry of the more recent half where it is (a read moves nothing there)', () => {
    const c = cache();
    for (const k of ['a/1', 'b/1', 'c/1', 'd/1']) c.put(k, { cost: 10 }, 40);
    // c/1 had one entry put after it, of four: read, it stays, and so the oldest go first.
    for (let i = 0; i < 100; i++) expect(c.use('c/1')).toEqual({ cost: 10 });
    c.put('e/1', { cost: 10 }, 40);
    c.put('f/1', { cost: 10 }, 40);
    expect(held(c, ['a/1', 'b/1', 'c/1', 'd/1', 'e/1', 'f/1'])).toEqual(['c/1', 'd/1', 'e/1', 'f/1']);
    // Now three of four were put after it, and it is the oldest: a read moves it.
    c.use('c/1');
    c.put('g/1', { cost: 10 }, 40);
    c.put('h/1', { cost: 10 }, 40);
    expect(held(c, ['c/1', 'd/1', 'e/1', 'f/1', 'g/1', 'h/1'])).toEqual(['c/1', 'f/1', 'g/1', 'h/1']);
  });

  it('stays within its limit and its counts, however puts and reads interleave', () => {
    // Random puts and reads against a model of which keys were read "recently enough".
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const c = cache();
    const limit = 16 * 10;
    for (let i = 0; i < 5000; i++) {
      const key = `p${Math.floor(random() * 40)}/1`;
      if (random() < 0.5) c.put(key, { cost: 10 }, limit);
      else {
        const before = c.peek(key);
        expect(c.use(key)).toBe(before);
      }
      expect(c.bytes).toBeLessThanOrEqual(limit);
      expect(c.bytes).toBe(c.size * 10);
    }
  });

  it('drops a package with every one of its keys, and only those', () => {
    const c = cache();
    for (const k of ['a/1', 'a/2', 'ab/1', 'b/1']) c.put(k, { cost: 1 }, 100);
    c.invalidate('a');
    expect(held(c, ['a/1', 'a/2', 'ab/1', 'b/1'])).toEqual(['ab/1', 'b/1']);
    expect(c.bytes).toBe(2);
    expect(c.keys.names).toBe(2);
    c.remove('ab/1');
    c.remove('b/1');
    c.remove('b/1');
    expect(c.bytes).toBe(0);
    expect(c.keys.names).toBe(0);
  });
});
