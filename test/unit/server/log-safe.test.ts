/**
 * The server's log writes errors without the hostile text they may quote: a PostgreSQL error's
 * `where` quotes the row it refused, package text included.
 */
import { Writable } from 'node:stream';
import { createLogger } from '../../../src/server/start';

function capture(): { stream: Writable; lines: () => Array<Record<string, any>> } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l)) };
}

describe('errors in the server log', () => {
  const hostile = 'evil\u202e\u2066txt.exe\u2028second line\u001b[2J\u0007 \ud800 end';
  // Bidi controls and the lone surrogate gone; the separator, the escape sequence and the bell each a space.
  const shown = 'eviltxt.exe second line    end';

  it('writes every string of an error (message, stack, driver fields, nested ones, the message of its cause) as clean lines, and keeps the rest', () => {
    const { stream, lines } = capture();
    const logger = createLogger('info', stream);
    const err = Object.assign(new Error(`insert failed: ${hostile}`), {
      code: '22P02',
      detail: `Token "${hostile}" is invalid.`,
      where: `JSON data, line 1: {"description":"${hostile}`,
      position: 12,
      cause: new Error(`cause ${hostile}`),
      context: { nested: [{ deeper: hostile }] },
    });
    logger.error({ err, package: 'p' }, 'a tarball inspection could not be recorded');
    const [line] = lines();
    expect(line.msg).toBe('a tarball inspection could not be recorded');
    expect(line.err).toMatchObject({ type: 'Error', code: '22P02', position: 12 });
    // pino adds the cause's message to the error's.
    expect(line.err.message).toBe(`insert failed: ${shown}: cause ${shown}`);
    expect(line.err.where).toBe(`JSON data, line 1: {"description":"${shown}`);
    expect(line.err.detail).toBe(`Token "${shown}" is invalid.`);
    expect(line.err.stack.split('\n')[0]).toBe(`Error: insert failed: ${shown}`);
    expect(line.err.stack.split('\n').length).toBeGreaterThan(1);
    const unsafe = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
    const strings: string[] = [];
    const walk = (v: unknown): void => {
      if (typeof v === 'string') strings.push(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(line.err);
    expect(strings.length).toBe(7);
    for (const s of strings) expect({ s, unsafe: unsafe.test(s) }).toEqual({ s, unsafe: false });
    expect(line.err.context).toEqual({ nested: [{ deeper: shown }] });
  });

  it("cleans an `error` field as it cleans `err`, and writes dates, bytes and bigints as values", () => {
    const { stream, lines } = capture();
    const at = new Date('2026-12-02T10:00:00.000Z');
    const err = Object.assign(new Error('x'), { at, body: Buffer.from('secret bytes'), n: 10n });
    createLogger('info', stream).warn({ err, error: `receiver said ${hostile}` }, 'delivery failed');
    const [line] = lines();
    expect(line.error).toBe(`receiver said ${shown}`);
    expect(line.err).toMatchObject({ at: '2026-12-02T10:00:00.000Z', body: '[12 bytes]', n: '10' });
  });

  it('bounds a long field', () => {
    const { stream, lines } = capture();
    createLogger('info', stream).error({ err: new Error('x'.repeat(100_000)) }, 'long');
    expect(lines()[0].err.message.length).toBe(2000);
  });
});
