import { DEFAULT_JSON_LIMITS, fitText, MAX_QUOTED, quoteText, redactQuery, sanitizeJson, sanitizeText, shownValue, thenSentence, TRUNCATED } from '../../../src/core/text';

/** What PostgreSQL's jsonb refuses: NUL and lone surrogates, as JSON.stringify writes them. */
const JSONB_POISON = /\\u0000|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/i;

describe('sanitizeText', () => {
  it('removes NUL', () => {
    expect(sanitizeText('node\u0000 install.js\u0000')).toBe('node install.js');
  });

  it('removes lone surrogates and keeps pairs', () => {
    expect(sanitizeText('a\uD800b')).toBe('ab');
    expect(sanitizeText('a\uDC00b')).toBe('ab');
    expect(sanitizeText('\uDC00\uD800')).toBe('');
    expect(sanitizeText('emoji \uD83D\uDE00 ok')).toBe('emoji \uD83D\uDE00 ok');
    // A NUL between the halves does not make a pair of them.
    expect(sanitizeText('\uD83D\u0000\uDE00')).toBe('');
  });

  it('replaces other C0 controls and DEL with a space, keeps tab and newline', () => {
    expect(sanitizeText('a\tb\nc')).toBe('a\tb\nc');
    expect(sanitizeText('a\rb\u001b[31mred\u0007\u007f')).toBe('a b [31mred  ');
    for (let c = 1; c < 32; c++) {
      const ch = String.fromCharCode(c);
      expect(sanitizeText(`x${ch}y`)).toBe(ch === '\t' || ch === '\n' ? `x${ch}y` : 'x y');
    }
  });

  it('leaves ordinary text alone', () => {
    const text = 'lodash@4.17.20 is banned: CVE-2021-23337 — “quoted”, ünïcödé, 中文';
    expect(sanitizeText(text)).toBe(text);
  });

  it('bounds the length, marks the cut and never splits a surrogate pair', () => {
    expect(sanitizeText('abcdef', 4)).toBe(`abc${TRUNCATED}`);
    expect(sanitizeText('abcdef', 4)).toHaveLength(4);
    expect(sanitizeText('abcd', 4)).toBe('abcd');
    expect(sanitizeText('abcdef', 1)).toBe(TRUNCATED);
    expect(sanitizeText('abcdef', 0)).toBe('');
    const cut = sanitizeText('ab\uD83D\uDE00cd', 4);
    expect(cut).toBe(`ab${TRUNCATED}`);
    expect(sanitizeText(cut)).toBe(cut);
    expect(sanitizeText('x'.repeat(100_000))).toHaveLength(2000);
  });

  it('is idempotent', () => {
    for (const s of ['a\u0000b\uD800c\u0001d', 'x'.repeat(50), 'ab\uD83D\uDE00cdef']) {
      const once = sanitizeText(s, 7);
      expect(sanitizeText(once, 7)).toBe(once);
    }
  });
});

describe('sanitizeJson', () => {
  it('cleans every string and key, deeply', () => {
    const out = sanitizeJson({ 'k\u0000ey': ['a\u0000', { deep: 'b\uD800\u0007' }], n: 1, t: true, z: null });
    expect(out).toEqual({ key: ['a', { deep: 'b ' }], n: 1, t: true, z: null });
    expect(JSON.stringify(out)).not.toMatch(JSONB_POISON);
  });

  it('what it returns serialises to something jsonb accepts', () => {
    const hostile = {
      scripts: { postinstall: 'curl x | sh\u0000' },
      deprecated: '\uDFFFdo not use\u0000',
      nested: [['\uD800'], { '\uDC00': '\u0000' }],
    };
    expect(JSON.stringify(hostile)).toMatch(JSONB_POISON);
    expect(JSON.stringify(sanitizeJson(hostile))).not.toMatch(JSONB_POISON);
  });

  it('drops keys that reach a prototype', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, "prototype": 2, "ok": 3}');
    const out = sanitizeJson(parsed) as Record<string, unknown>;
    expect(out).toEqual({ ok: 3 });
    expect(Object.keys(out)).toEqual(['ok']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Also when cleaning the key is what makes it dangerous.
    expect(sanitizeJson({ '__proto__\u0000': { polluted: true } })).toEqual({});
  });

  it('bounds the depth', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 20; i++) deep = { d: deep };
    let out = sanitizeJson(deep, { maxDepth: 3 }) as Record<string, unknown>;
    expect(out).toEqual({ d: { d: { d: '[too deep]' } } });
    out = sanitizeJson(deep) as Record<string, unknown>;
    expect(JSON.stringify(out)).toContain('[too deep]');
  });

  it('bounds arrays and keys, saying how many were left out', () => {
    const out = sanitizeJson(Array.from({ length: 10 }, (_, i) => i), { maxArrayLength: 4 }) as unknown[];
    expect(out).toEqual([0, 1, 2, `${TRUNCATED} 7 more`]);
    expect(sanitizeJson(out, { maxArrayLength: 4 })).toEqual(out);
    expect(sanitizeJson([1, 2, 3, 4], { maxArrayLength: 4 })).toEqual([1, 2, 3, 4]);

    const wide = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]));
    const narrowed = sanitizeJson(wide, { maxArrayLength: 3 }) as Record<string, unknown>;
    expect(narrowed).toEqual({ k0: 0, k1: 1, [TRUNCATED]: '8 more' });
  });

  it('bounds string lengths and the total size', () => {
    const out = sanitizeJson({ s: 'x'.repeat(10_000) }, { maxStringLength: 10 }) as Record<string, string>;
    expect(out.s).toHaveLength(10);
    const big = Array.from({ length: 1000 }, () => ({ text: 'y'.repeat(1000) }));
    const bounded = sanitizeJson(big, { ...DEFAULT_JSON_LIMITS, maxArrayLength: 10_000, maxTotalLength: 5000 });
    expect(JSON.stringify(bounded).length).toBeLessThan(5000 + 200);
    expect(JSON.stringify(bounded)).toContain(TRUNCATED);
  });

  it('behaves like JSON.stringify for values JSON has no room for, and cuts cycles', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    expect(sanitizeJson(cyclic)).toEqual({ name: 'loop', self: '[circular]' });
    expect(
      sanitizeJson({ at: new Date('2024-01-02T03:04:05.000Z'), f: () => 1, u: undefined, nan: NaN, inf: -Infinity, big: BigInt(12), list: [undefined, () => 1] }),
    ).toEqual({ at: '2024-01-02T03:04:05.000Z', nan: null, inf: null, big: '12', list: [null, null] });
    expect(sanitizeJson('top\u0000')).toBe('top');
    expect(sanitizeJson(undefined)).toBeNull();
    // The same object twice (not a cycle) is copied twice.
    const shared = { v: 1 };
    expect(sanitizeJson({ a: shared, b: shared })).toEqual({ a: { v: 1 }, b: { v: 1 } });
  });

  it('does not change the input', () => {
    const input = { a: 'x\u0000', list: [1, 2, 3] };
    const copy = JSON.parse(JSON.stringify(input));
    sanitizeJson(input, { maxArrayLength: 2 });
    expect(input).toEqual(copy);
  });
});

describe('redactQuery', () => {
  it('hides a URL query (it may hold a token), keeps the rest, and gives nothing for what is no URL', () => {
    expect(redactQuery('https://feeds.example.test/osv.json?token=secret&x=1')).toBe('https://feeds.example.test/osv.json?…');
    expect(redactQuery('http://127.0.0.1:9/hook')).toBe('http://127.0.0.1:9/hook');
    expect(redactQuery('not a url?token=secret')).toBe('');
  });
});

describe('quoteText', () => {
  it('makes hostile text one clean line: escape sequences, controls, separators and bidi controls go', () => {
    expect(quoteText('\u001b[31mRED\u001b[0m\u0000NUL\r\nInjected: header\u2026')).toBe('RED NUL Injected: header\u2026');
    expect(quoteText('a\u2028b\u2029c\u0085d\u009be')).toBe('a b c d e');
    expect(quoteText('\u202eevil\u202c \u2066x\u2069\u200f\u061c\ufeff')).toBe('evil x');
    expect(quoteText('\u001b]8;;http://x\u0007link\u001b]8;;\u0007')).toBe('link');
    expect(quoteText('  tabs\tand\n\nnewlines  ')).toBe('tabs and newlines');
  });

  it('leaves ordinary text alone and is idempotent', () => {
    const text = 'use bar instead — “quoted”, ünïcödé, 中文 \uD83D\uDE00';
    expect(quoteText(text)).toBe(text);
    const hostile = `\u001b[1m${'x\r\n'.repeat(300)}`;
    expect(quoteText(quoteText(hostile))).toBe(quoteText(hostile));
  });

  it(`cuts at ${MAX_QUOTED} characters with an ellipsis`, () => {
    expect(quoteText('Z'.repeat(3000))).toBe(`${'Z'.repeat(MAX_QUOTED - 1)}${TRUNCATED}`);
    expect(quoteText('abcdef', 4)).toBe(`abc${TRUNCATED}`);
  });
});

describe('fitText', () => {
  it('keeps the start and the end of a long text, cutting its middle', () => {
    expect(fitText('short', 10)).toBe('short');
    const fitted = fitText(`start ${'m'.repeat(100)} end`, 40);
    expect(fitted).toHaveLength(40);
    expect(fitted).toMatch(/^start m+\.\.\.m+ end$/);
  });

  it('never splits a surrogate pair', () => {
    const fitted = fitText('\uD83D\uDE00'.repeat(50), 21);
    expect(fitted).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/);
  });
});

describe('shownValue', () => {
  it('echoes a string as it is and anything else as JSON', () => {
    expect(shownValue('lodash', 40)).toBe('lodash');
    expect(shownValue({ a: [1, 'x'] }, 40)).toBe('{"a":[1,"x"]}');
    expect(shownValue(undefined, 40)).toBe('undefined');
    expect(shownValue(12n, 40)).toBe('12');
  });

  it('shows every character outside printable ASCII as ?, escapes and NUL among them', () => {
    expect(shownValue('a\u001b[2Jb\u0000c\u202ed\u00e9', 40)).toBe('a?[2Jb?c?d?');
    expect(shownValue('\r\n', 40)).toBe('??');
  });

  it('cuts a long value to its bound, marking the cut', () => {
    const shown = shownValue('x'.repeat(1_000_000), 60);
    expect(shown).toHaveLength(60);
    expect(shown.endsWith('...')).toBe(true);
    expect(shownValue('x'.repeat(60), 60)).toBe('x'.repeat(60));
  });
});

describe('thenSentence', () => {
  it('ends a sentence with a full stop before the next, but not after a cut that ends in an ellipsis', () => {
    expect(thenSentence('foo@1.0.0 is banned', 'Use another version')).toBe('foo@1.0.0 is banned. Use another version');
    // A quote that closes after the cut ends the sentence: the full stop stays.
    expect(thenSentence('foo@1.0.0 is deprecated: "a long message, le…"', 'Run it')).toBe('foo@1.0.0 is deprecated: "a long message, le…". Run it');
    expect(thenSentence('a title cut le…', 'Run it')).toBe('a title cut le… Run it');
    expect(thenSentence('a title cut le...', 'Run it')).toBe('a title cut le... Run it');
  });
});
