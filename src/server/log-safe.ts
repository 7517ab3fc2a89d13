/**
 * Errors as the log writes them. A driver's or a library's error can quote package text (a
 * PostgreSQL error's `where` and `detail` quote the row it refused, a knex error the
 * statement): every string in it is made one line per line, without control characters,
 * bidi controls, lone surrogates or terminal escape sequences (src/core/text.ts's oneLine),
 * and bounded, before pino or pino-pretty writes it.
 */
import pino from 'pino';
import { oneLine, sanitizeText } from '../core/text';

/** The longest string kept of an error's field (a stack is bounded by its lines). */
const MAX_FIELD = 2000;
const MAX_STACK_LINES = 50;
const MAX_DEPTH = 4;

function clean(value: unknown, key: string, depth: number): unknown {
  if (typeof value === 'string') {
    if (key === 'stack') return value.split('\n').slice(0, MAX_STACK_LINES).map((line) => sanitizeText(oneLine(line), MAX_FIELD)).join('\n');
    return sanitizeText(oneLine(value), MAX_FIELD);
  }
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? String(value) : value;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  // A date, a URL: what JSON would write.
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return clean((value as { toJSON(): unknown }).toJSON(), key, depth + 1);
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (Array.isArray(value)) return value.slice(0, 20).map((v) => clean(v, '', depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[oneLine(k)] = clean(v, k, depth + 1);
  return out;
}

/** pino's error serializer, its output cleaned (see above); what is not an error (a message string) is cleaned as it is. */
export function errorForLog(err: unknown): unknown {
  const serialized = err instanceof Error ? pino.stdSerializers.err(err) : err;
  return clean(serialized, '', 0);
}
