import { cell, json, line, safeOutput, table } from '../../src/cli/output';
import { terminalSafeJson } from '../../src/core/text';
import { captureIo } from '../support/cli';

/** What a developer can put in a request's reason, and an upstream in a license. */
const FORGED = 'need it\nleft-pad  1  approved  admin  \u009b31mRED\u009b0m \u202eevil\u202c \u2028x\r\u001b[2J\u0007\u200f';
/** Characters that act on a terminal, or reorder or hide text (a line break is checked apart). */
const UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u061c\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

describe('what the CLI prints is safe for a terminal', () => {
  it('a table cell is one line without controls, separators or bidi characters', () => {
    const out = table([{ id: 1, reason: FORGED, details: { reason: FORGED } }], ['id', 'reason', 'details']);
    expect(out.split('\n')).toHaveLength(2);
    expect(out).not.toMatch(UNSAFE);
    expect(out).toContain('need it left-pad  1  approved  admin   31mRED 0m evil');
  });

  it('a detail line cleans every value it interpolates, and keeps its own text', () => {
    const text = line`  reason:  ${FORGED} (${null})`;
    expect(text).not.toMatch(UNSAFE);
    expect(text).not.toContain('\n');
    expect(text.startsWith('  reason:  need it left-pad')).toBe(true);
    expect(text.endsWith(' (-)')).toBe(true);
    expect(cell(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
  });

  it('safeOutput keeps the command\'s own line breaks and cleans each line', () => {
    const io = captureIo();
    safeOutput(io).out(`first ${'\u001b[31m'}red\nsecond \u202eevil`);
    safeOutput(io).err('x\u009by');
    expect(io.outText()).toBe('first  red\nsecond evil');
    expect(io.errText()).toBe('x y');
  });

  it('--json escapes every control, separator and bidi character, and parses to the same value', () => {
    const value = { reason: FORGED, license: 'MIT\u001b[2J\u009b31m\u202eTIM', ok: '✓ ünïcode 漢字 \ud83d\ude00', lone: '\ud800' };
    const text = json(value);
    expect(text).not.toMatch(UNSAFE);
    expect(text).toContain('\\u009b31mRED\\u009b0m \\u202eevil\\u202c \\u2028x');
    expect(JSON.parse(text)).toEqual(value);
    // Printable text beyond ASCII stays as it is.
    expect(text).toContain('✓ ünïcode 漢字 \ud83d\ude00');
  });

  it('terminalSafeJson keeps an escaped backslash before an escaped character apart from it', () => {
    const value = ['\\\u009b', '\\u009b', '\u2029\\'];
    const text = terminalSafeJson(value);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).toBe('["\\\\\\u009b","\\\\u009b","\\u2029\\\\"]');
    expect(terminalSafeJson(undefined)).toBeUndefined();
  });
});
