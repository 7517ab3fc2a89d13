import { oneLine, terminalSafeJson } from '../core/text';

/** Plain-text tables, detail lines and JSON for the commands: everything they print is made safe for a terminal. */
export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export const stdio: Output = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

/**
 * A value as a table cell or a detail line shows it: one line, without terminal escape
 * sequences, control characters, line or paragraph separators or bidi controls (`oneLine`).
 * Text that users, lower roles and the upstream control (a request's reason, a license, an
 * audit entry's details) cannot forge a line, repaint the terminal or reorder what is shown.
 */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') return oneLine(JSON.stringify(value) ?? String(value));
  return oneLine(String(value));
}

/** A template for a detail line: every interpolated value goes through `cell` (`null` shows as `-`). */
export function line(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? cell(values[i]) : ''), '');
}

/**
 * The last line of defence, where a command's text leaves (main wraps every Output with it):
 * each line of `text` as `oneLine` leaves it. The command's own line breaks stay; whatever a
 * value brought that `cell` did not catch (a command printing a value raw) cannot act on the
 * terminal.
 */
export function safeOutput(io: Output): Output {
  const clean = (text: string) => String(text).split('\n').map(oneLine).join('\n');
  return { out: (text) => io.out(clean(text)), err: (text) => io.err(clean(text)) };
}

export function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  if (rows.length === 0) return '(none)';
  const cells = rows.map((row) => columns.map((c) => cell(row[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i].length)));
  const format = (values: string[]) => values.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  return [format(columns.map((c) => c.toUpperCase())), ...cells.map(format)].join('\n');
}

/**
 * JSON for `--json`: valid JSON that parses to the value, with every control, separator and
 * bidi character that JSON.stringify would leave raw escaped as `\uXXXX` (piping it to a
 * terminal is safe too).
 */
export function json(value: unknown): string {
  return terminalSafeJson(value, 2);
}
