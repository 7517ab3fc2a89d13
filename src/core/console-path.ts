/**
 * Where the console may send a browser after a sign-in (the IdP's callback, the console's own
 * sign-in page): a path of the console only. Shared by the server and the console (src/ui
 * bundles it), so both keep the same paths. Needs nothing but the WHATWG URL parser, which
 * Node and browsers share.
 */

export const CONSOLE_PREFIX = '/-/gatekeeper/ui/';

const BASE = 'http://console.invalid';

/**
 * `next` if it is a path of the console as a browser resolves it, else undefined. It must be
 * printable ASCII (it goes into a Location header), start with the console's prefix, and stay
 * there once resolved: the URL parser's resolution of it (dot segments, `%2e%2e` among them)
 * must change nothing, and no segment may hide a dot segment, a slash or a backslash behind
 * its percent-encoding (`..%2f`, `%5c`), which a server that decodes before resolving would
 * follow. `//` (encoded or not) and `%25` (an encoding of an encoding) are refused outright.
 */
export function consolePathOf(next: unknown): string | undefined {
  if (typeof next !== 'string' || next.length > 500) return undefined;
  if (!next.startsWith(CONSOLE_PREFIX)) return undefined;
  if (/[^\x21-\x7e]/.test(next) || next.includes('\\')) return undefined;
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return undefined;
  }
  if (url.origin !== BASE || `${url.pathname}${url.search}${url.hash}` !== next) return undefined;
  const path = url.pathname;
  if (!path.startsWith(CONSOLE_PREFIX) || path.includes('//') || /%25/i.test(path)) return undefined;
  for (const segment of path.split('/')) {
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return undefined;
    }
    if (decoded.includes('\\') || decoded.includes('//')) return undefined;
    if (decoded.split('/').some((part) => part === '.' || part === '..')) return undefined;
  }
  return next;
}

/** `next` if it is a console path (consolePathOf), else the console's start. */
export function safeConsolePath(next: unknown): string {
  return consolePathOf(next) ?? CONSOLE_PREFIX;
}
