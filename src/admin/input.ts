import { GatekeeperError } from '../core/errors';

/**
 * The checks every admin request passes before its handler runs, whatever the route: no
 * control characters in any string a client sent (path parameters, query parameters, every
 * key and string of the JSON body, however deep), query parameters given once and as plain
 * text, and JSON nested no deeper than MAX_BODY_DEPTH. PostgreSQL's text and jsonb cannot
 * hold U+0000, and the rest have no business in names, reasons or comments that end up in
 * logs, headers and terminals.
 */

/** C0 controls except tab, line feed and carriage return; and DEL. */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/;
/**
 * Half of a UTF-16 surrogate pair without the other half (JSON can write one as `\ud800`): no
 * Unicode text, so PostgreSQL would store U+FFFD instead, a password would hash the same as
 * others, and a name's validator would throw.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Deeper JSON is refused (400): no admin body needs more, and deep nesting is a denial-of-service shape. */
export const MAX_BODY_DEPTH = 32;

function invalid(field: string, what: string): GatekeeperError {
  return new GatekeeperError('EVALIDATION', `${field} ${what}`, { field });
}

function controlIn(field: string, text: string): GatekeeperError | undefined {
  const match = CONTROL.exec(text);
  if (match) return invalid(field, `contains a control character (${codePoint(match[0])}); remove it and send the request again`);
  const lone = LONE_SURROGATE.exec(text);
  if (lone) return invalid(field, `contains half of a UTF-16 surrogate pair (${codePoint(lone[0])}), which is not text; send valid Unicode`);
  return undefined;
}

function codePoint(char: string): string {
  return `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

/** `body.entries[3].name`, `body["odd key"]`: where a value sits, for messages. */
function member(parent: string, key: string): string {
  if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) return `${parent}.${key}`;
  const shown = key.length > 40 ? `${key.slice(0, 37)}...` : key;
  return `${parent}[${JSON.stringify(shown.replace(new RegExp(CONTROL.source, 'g'), '?'))}]`;
}

/** Checks one JSON value and everything in it, without recursion (any depth is safe to walk). */
export function assertCleanJson(value: unknown, root: string): void {
  const stack: Array<{ value: unknown; field: string; depth: number }> = [{ value, field: root, depth: 0 }];
  while (stack.length > 0) {
    const { value: v, field, depth } = stack.pop() as { value: unknown; field: string; depth: number };
    if (typeof v === 'string') {
      const problem = controlIn(field, v);
      if (problem) throw problem;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (depth >= MAX_BODY_DEPTH) throw invalid(field, `is nested more than ${MAX_BODY_DEPTH} levels deep; no admin request needs that`);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], field: `${field}[${i}]`, depth: depth + 1 });
      continue;
    }
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i];
      const child = member(field, key);
      if (CONTROL.test(key) || LONE_SURROGATE.test(key)) throw invalid(child, 'has a name with a control character or half of a surrogate pair; remove it and send the request again');
      stack.push({ value: (v as Record<string, unknown>)[key], field: child, depth: depth + 1 });
    }
  }
}

/** Query parameters: each given at most once, as text, without control characters. */
export function assertCleanQuery(query: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(query)) {
    const field = `query parameter '${key.replace(new RegExp(CONTROL.source, 'g'), '?').slice(0, 40)}'`;
    if (CONTROL.test(key) || LONE_SURROGATE.test(key)) throw invalid(field, 'has a name with a control character or half of a surrogate pair; remove it and send the request again');
    if (typeof value !== 'string') throw invalid(field, 'must be given once, as plain text (not repeated, not a[]= or a[b]=)');
    const problem = controlIn(field, value);
    if (problem) throw problem;
    out[key] = value;
  }
  return out;
}

/** Path parameters (already percent-decoded: `%00` is U+0000 here). */
export function assertCleanParams(params: Record<string, string>): void {
  for (const [key, value] of Object.entries(params)) {
    const problem = controlIn(`path parameter '${key}'`, value);
    if (problem) throw problem;
  }
}
