/**
 * Request conditions and content negotiation, as RFC 9110 has them, for the responses the
 * gate writes itself (cached packuments, tarballs).
 */

/**
 * The `Cache-Control` of an allowed answer whose content the policy decides (a packument, a
 * version, a tarball): any cache, a CI's shared proxy included, may store it but must ask again
 * before each use (RFC 9111 §5.2.2.4). Its ETag makes that a cheap 304 while the policy still
 * allows it; a policy change (a ban, a revoked approval) refuses the next use. Without it, a
 * cache may reuse an answer with a validator for as long as its heuristics say (§4.2.2): a
 * banned tarball went on installing through an HAProxy cache.
 */
export const REVALIDATE = 'no-cache';

/** The same for a tarball, whose bytes must reach the client as the integrity names them. */
export const REVALIDATE_TARBALL = 'no-cache, no-transform';

/** A tarball answer with an `npm-notice`: npm prints the notice only for answers it does not store. */
export const UNSTORED_TARBALL = 'no-store, no-transform';

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
