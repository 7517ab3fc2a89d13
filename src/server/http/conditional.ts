/**
 * Request conditions and content negotiation, as RFC 9110 has them, for the responses the
 * gate writes itself (cached packuments, tarballs).
 */

/**
 * Whether an `If-None-Match` header matches the response's entity tag: `*`, or any tag of the
 * list, compared weakly (a `W/` prefix on either side is ignored), as RFC 9110 asks for
 * If-None-Match.
 */
export function etagMatches(header: string | undefined, etag: string): boolean {
  if (header === undefined || !etag) return false;
  if (header === etag) return true;
  const strong = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || (tag.startsWith('W/') ? tag.slice(2) : tag) === strong) return true;
  }
  return false;
}

/**
 * Whether the client accepts a gzip body: `gzip` (or `x-gzip`, or `*`) listed with a quality
 * above 0. npm, pnpm, yarn and bun send `gzip, deflate, br` or the like: no weights to read.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  if (!header.includes(';')) return /\b(x-)?gzip\b/i.test(header) || /(^|,)\s*\*\s*(,|$)/.test(header);
  let star: boolean | undefined;
  for (const part of header.split(',')) {
    const [coding, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    const accepted = Number.isFinite(weight) && weight > 0;
    if (coding === 'gzip' || coding === 'x-gzip') return accepted;
    if (coding === '*') star = accepted;
  }
  return star === true;
}
