/**
 * Package text (scripts, descriptions, deprecation messages, headers sent by clients) is
 * hostile. These functions make any such text safe to store, log or put in a header:
 *
 * - `\u0000` and lone UTF-16 surrogates are removed: PostgreSQL's jsonb cannot hold either
 *   (and `text` cannot hold NUL), so one of them would make a whole INSERT fail;
 * - every other C0 control character except tab and newline (`\r`, escape sequences that
 *   repaint a terminal, bell, ...) and DEL (invalid in an HTTP header) become a space;
 * - lengths are bounded.
 *
 * Pure: no I/O. `sanitizeText` is idempotent.
 */

/** Marks text or lists that were cut short. */
export const TRUNCATED = '…';

export const DEFAULT_MAX_TEXT = 2000;

// NUL and lone surrogates go; the other C0 controls but \t (09) and \n (0A), and DEL, become spaces.
const REMOVED = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const CONTROLS = /[\u0001-\u0008\u000B-\u001F\u007F]/g;

/** `s` without NUL (which PostgreSQL's text and jsonb refuse) and lone UTF-16 surrogates (which jsonb refuses); nothing else changed. */
export function storable(s: string): string {
  return s.replace(REMOVED, '');
}

/**
 * `s` without NUL and lone surrogates, other C0 controls but `\t` and `\n` (and DEL)
 * replaced by a space, and at most `maxLength` UTF-16 code units long (a cut text ends with `…`, and a
 * surrogate pair is never split).
 */
export function sanitizeText(s: string, maxLength: number = DEFAULT_MAX_TEXT): string {
  const max = Math.max(0, Math.floor(maxLength));
  let out = s.replace(REMOVED, '').replace(CONTROLS, ' ');
  if (out.length > max) {
    if (max === 0) return '';
    let end = max - TRUNCATED.length;
    // Do not leave the high half of a pair at the end.
    if (end > 0 && /[\uD800-\uDBFF]/.test(out[end - 1])) end--;
    out = `${out.slice(0, Math.max(0, end))}${TRUNCATED}`.slice(0, max);
  }
  return out;
}

export interface JsonLimits {
  /** Longest string (and key), in UTF-16 code units. */
  maxStringLength: number;
  /** Nesting deeper than this is replaced by the string `[too deep]`. */
  maxDepth: number;
  /** Longest array and most keys per object; the last slot says how many were left out. */
  maxArrayLength: number;
  /** Roughly the largest JSON text the copy serialises to, in characters. */
  maxTotalLength: number;
}

export const DEFAULT_JSON_LIMITS: JsonLimits = {
  maxStringLength: DEFAULT_MAX_TEXT,
  maxDepth: 8,
  maxArrayLength: 100,
  maxTotalLength: 16_000,
};

/** Keys that would reach an object's prototype when the copy is merged somewhere. */
const DANGEROUS_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * A deep copy of a JSON-ish value that is safe to store as jsonb and to log: every string
 * and key through `sanitizeText`, depth, array length, key count and total size bounded,
 * `__proto__`/`constructor`/`prototype` keys dropped, cycles cut. Like JSON.stringify:
 * `toJSON` is honoured (dates become ISO strings), functions, symbols and undefined
 * properties are left out (`null` in arrays), non-finite numbers become null; bigints
 * become strings.
 */
export function sanitizeJson(value: unknown, limits: Partial<JsonLimits> = {}): Json {
  const l: JsonLimits = { ...DEFAULT_JSON_LIMITS, ...limits };
  const maxItems = Math.max(1, Math.floor(l.maxArrayLength));
  let budget = Math.max(0, Math.floor(l.maxTotalLength));
  const ancestors = new Set<object>();

  const text = (s: string): string => {
    const clean = sanitizeText(s, Math.min(l.maxStringLength, Math.max(budget - 2, 0)));
    budget = Math.max(0, budget - clean.length - 2);
    return clean;
  };

  const copy = (v: unknown, depth: number): Json | undefined => {
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      try {
        v = (v as { toJSON(): unknown }).toJSON();
      } catch {
        return text('[unserialisable]');
      }
    }
    switch (typeof v) {
      case 'string':
        return text(v);
      case 'number':
        budget = Math.max(0, budget - 8);
        return Number.isFinite(v) ? v : null;
      case 'boolean':
        budget = Math.max(0, budget - 5);
        return v;
      case 'bigint':
        return text(v.toString());
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (v === null) {
      budget = Math.max(0, budget - 4);
      return null;
    }
    const obj = v as object;
    if (ancestors.has(obj)) return text('[circular]');
    if (depth >= l.maxDepth) return text('[too deep]');
    ancestors.add(obj);
    budget = Math.max(0, budget - 2);
    try {
      if (Array.isArray(obj)) {
        const out: Json[] = [];
        for (let i = 0; i < obj.length; i++) {
          if (out.length === maxItems - 1 && obj.length > maxItems) {
            out.push(text(`${TRUNCATED} ${obj.length - i} more`));
            break;
          }
          if (budget <= 0) {
            out.push(TRUNCATED);
            break;
          }
          const item = copy(obj[i], depth + 1);
          out.push(item === undefined ? null : item);
          budget = Math.max(0, budget - 1);
        }
        return out;
      }
      const out: { [key: string]: Json } = {};
      const keys = Object.keys(obj);
      let kept = 0;
      for (let i = 0; i < keys.length; i++) {
        const key = sanitizeText(keys[i], l.maxStringLength);
        if (DANGEROUS_KEYS.has(key) || DANGEROUS_KEYS.has(keys[i])) continue;
        if ((kept === maxItems - 1 && keys.length - i > 1) || budget <= 0) {
          // Say how many were left out, under a key the copy does not otherwise have.
          let marker = TRUNCATED;
          while (Object.prototype.hasOwnProperty.call(out, marker)) marker += TRUNCATED;
          out[marker] = budget > 0 ? text(`${keys.length - i} more`) : TRUNCATED;
          break;
        }
        budget = Math.max(0, budget - key.length - 3);
        const item = copy((obj as Record<string, unknown>)[keys[i]], depth + 1);
        if (item === undefined) continue;
        out[key] = item;
        kept++;
      }
      return out;
    } finally {
      ancestors.delete(obj);
    }
  };

  const result = copy(value, 0);
  return result === undefined ? null : result;
}

/** A URL for logs, the audit log and /health: its query (which may hold a token) shown as `?…`; '' when it is no URL. */
export function redactQuery(url: string): string {
  try {
    const u = new URL(url);
    return u.search ? `${u.origin}${u.pathname}?…` : u.href;
  } catch {
    return '';
  }
}

/** The longest piece of someone else's text (a deprecation, an advisory title, a script) a message quotes. */
export const MAX_QUOTED = 200;

// Escape sequences that repaint a terminal (CSI ... final byte, OSC ... BEL/ST): gone whole.
const ANSI_SEQUENCES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?/g;
// C0 and C1 controls, DEL, line and paragraph separators, NEL: a space (a message is one line).
const LINE_BREAKERS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
// Bidi controls (marks, embeddings, overrides, isolates), zero-width space and BOM: they reorder or hide what is shown.
const INVISIBLE = /[\u061c\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

/**
 * Text from a package's author or an upstream (a deprecation message, an advisory title, a
 * script) as a message may quote it: one line, no control characters, line or paragraph
 * separators, bidi controls or terminal escape sequences, white space runs as one space, and at
 * most `maxLength` characters (a cut ends with `…`). A message that quotes through this keeps
 * its own `[CODE] what happened. what to do next` whole. Idempotent.
 */
export function quoteText(s: string, maxLength: number = MAX_QUOTED): string {
  return sanitizeText(oneLine(String(s)).replace(/\s+/g, ' ').trim(), maxLength);
}

/** `text`, then `next` as the sentence after it: after a cut that ends in an ellipsis, no full stop of its own ("…. Run" reads as a typo). */
export function thenSentence(text: string, next: string): string {
  return `${text}${/(?:\.\.\.|\u2026)$/.test(text) ? ' ' : '. '}${next}`;
}

/** `s` as one line: what `quoteText` removes, without the length bound (a message's last line of defence). */
export function oneLine(s: string): string {
  return s.replace(ANSI_SEQUENCES, ' ').replace(REMOVED, '').replace(LINE_BREAKERS, ' ').replace(INVISIBLE, '');
}

// What JSON.stringify leaves as it is but a terminal acts on or hides: DEL, C1 controls (U+009B
// is a CSI of its own), line and paragraph separators, bidi controls, zero-width and other
// invisible format characters, BOM, interlinear annotations.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/**
 * `JSON.stringify(value, null, space)` that is safe to print to a terminal: besides the C0
 * controls and lone surrogates JSON.stringify escapes, every character of `JSON_UNSAFE` is
 * written as a `\uXXXX` escape. Still JSON, and it parses to the same value (such a character
 * can only stand inside a string, where its escape means the same). `undefined` as
 * JSON.stringify gives it.
 */
export function terminalSafeJson(value: unknown, space?: number): string {
  const text = JSON.stringify(value, null, space) as string | undefined;
  return text === undefined ? (text as unknown as string) : text.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A value from a request or a document as a message echoes it: a string as it is, anything else
 * as JSON, every character outside printable ASCII as `?` (nothing a terminal would act on, and
 * nothing a header refuses), and at most `maxLength` characters (a cut ends with `...`): a
 * message must not echo a megabyte of input.
 */
export function shownValue(value: unknown, maxLength: number): string {
  let text: string;
  try {
    text = typeof value === 'string' ? value : value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  text = text.replace(/[^\x20-\x7e]/g, '?');
  return text.length > maxLength ? `${text.slice(0, Math.max(0, maxLength - 3))}...` : text;
}

/**
 * `s` at most `maxLength` characters. A longer text loses its middle, not its end: a message
 * begins with what happened and ends with what to do next, and both must survive. `tail` is the
 * share of the room kept for the end.
 */
export function fitText(s: string, maxLength: number, marker = '...', tail = 0.6): string {
  if (s.length <= maxLength) return s;
  const room = Math.max(0, maxLength - marker.length);
  const keepEnd = Math.floor(room * tail);
  let headEnd = room - keepEnd;
  let tailStart = s.length - keepEnd;
  // Never split a surrogate pair.
  if (headEnd > 0 && /[\uD800-\uDBFF]/.test(s[headEnd - 1])) headEnd--;
  if (tailStart < s.length && /[\uDC00-\uDFFF]/.test(s[tailStart])) tailStart++;
  return `${s.slice(0, headEnd).trimEnd()}${marker}${s.slice(tailStart).trimStart()}`;
}
