import { assertCleanJson, assertCleanParams, assertCleanQuery, MAX_BODY_DEPTH } from '../../../src/admin/input';
import type { GatekeeperError } from '../../../src/core/errors';

const failure = (fn: () => unknown): { code: string; field: unknown; message: string } | undefined => {
  try {
    fn();
  } catch (err) {
    const e = err as GatekeeperError;
    return { code: e.code, field: e.details?.field, message: e.message };
  }
  return undefined;
};

describe('admin input checks', () => {
  it('accepts ordinary text, tabs and new lines', () => {
    expect(failure(() => assertCleanJson({ reason: 'line one\nline two\r\n\tindented', n: 1, ok: true, list: ['ü', '名前', null] }, 'body'))).toBeUndefined();
    expect(failure(() => assertCleanQuery({ name: 'lodash', cursor: 'aWQ6MQ' }))).toBeUndefined();
    expect(failure(() => assertCleanParams({ id: '12' }))).toBeUndefined();
  });

  it('names the field holding a control character, however deep', () => {
    expect(failure(() => assertCleanJson({ reason: 'a\u0000b' }, 'body'))).toMatchObject({ code: 'EVALIDATION', field: 'body.reason' });
    expect(failure(() => assertCleanJson({ entries: [{ name: 'ok' }, { name: 'x\u001b[31m' }] }, 'body'))).toMatchObject({ field: 'body.entries[1].name' });
    expect(failure(() => assertCleanJson({ 'odd key': { v: '\u007f' } }, 'body'))).toMatchObject({ field: 'body["odd key"].v' });
    expect(failure(() => assertCleanJson({ ['k\u0001']: 1 }, 'body'))?.field).toBe('body["k?"]');
    expect(failure(() => assertCleanJson('\u0008', 'body'))).toMatchObject({ field: 'body' });
    expect(failure(() => assertCleanJson({ reason: 'a\u0000b' }, 'body'))?.message).toContain('U+0000');
  });

  it('refuses half of a surrogate pair anywhere, and keeps whole pairs', () => {
    expect(failure(() => assertCleanJson({ name: 'emoji \ud83d\ude00 fine' }, 'body'))).toBeUndefined();
    for (const bad of ['x\ud800y', 'x\udfff', '\ud83d', '\ude00\ud83d']) {
      const got = failure(() => assertCleanJson({ deep: [{ password: bad }] }, 'body'));
      expect(got).toMatchObject({ code: 'EVALIDATION', field: 'body.deep[0].password' });
      expect(got?.message).toMatch(/contains half of a UTF-16 surrogate pair \(U\+D[89A-F][0-9A-F]{2}\), which is not text; send valid Unicode$/);
    }
    expect(failure(() => assertCleanJson({ ['k\ud800']: 1 }, 'body'))?.code).toBe('EVALIDATION');
    expect(failure(() => assertCleanQuery({ q: 'a\udc00' }))?.code).toBe('EVALIDATION');
    expect(failure(() => assertCleanParams({ name: 'a\ud800' }))?.code).toBe('EVALIDATION');
  });

  it('checks query and path parameters', () => {
    expect(failure(() => assertCleanQuery({ name: 'a\u0000' }))).toMatchObject({ code: 'EVALIDATION', field: "query parameter 'name'" });
    expect(failure(() => assertCleanQuery({ cursor: ['a', 'b'] }))).toMatchObject({ code: 'EVALIDATION', field: "query parameter 'cursor'" });
    expect(failure(() => assertCleanQuery({ name: { a: 'b' } }))?.code).toBe('EVALIDATION');
    expect(failure(() => assertCleanParams({ id: '\u0000' }))).toMatchObject({ code: 'EVALIDATION', field: "path parameter 'id'" });
  });

  it('refuses nesting deeper than the limit without overflowing the stack', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(failure(() => assertCleanJson(deep, 'body'))?.code).toBe('EVALIDATION');
    let fine: unknown = 'leaf';
    for (let i = 0; i < MAX_BODY_DEPTH; i++) fine = { a: fine };
    expect(failure(() => assertCleanJson(fine, 'body'))).toBeUndefined();
  });
});
