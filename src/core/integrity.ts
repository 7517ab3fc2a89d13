import { createHash } from 'node:crypto';
import ssri from 'ssri';

/**
 * Subresource-integrity strings (`sha512-<base64> …`) as the registry verifies them: the one
 * place that picks which of an integrity's hashes a tarball's bytes are checked against, for
 * a tarball fetched from the upstream (src/upstream/client.ts), one read again from storage
 * (src/server/registry/gate.ts, tarball-cache.ts) and one published (core/publish.ts).
 */

/** The algorithms an integrity may be verified with (node's crypto computes them all), strongest first. */
export const VERIFIABLE_ALGORITHMS: readonly string[] = ['sha512', 'sha384', 'sha256', 'sha1'];

/** What bytes are checked against: one algorithm, and the digests (base64) any one of which they may have. */
export interface Digests {
  algorithm: string;
  digests: ReadonlySet<string>;
}

/**
 * The digests an integrity names for its strongest verifiable algorithm: a weaker one alongside
 * adds nothing. Undefined when it names none (unparseable, or only algorithms not verified).
 */
export function strongestDigests(integrity: string): Digests | undefined {
  const parsed = ssri.parse(integrity) as unknown as Record<string, Array<{ digest: string }> | undefined> | null;
  if (!parsed) return undefined;
  const algorithm = VERIFIABLE_ALGORITHMS.find((a) => Array.isArray(parsed[a]) && parsed[a]!.length > 0);
  return algorithm ? { algorithm, digests: new Set(parsed[algorithm]!.map((h) => h.digest)) } : undefined;
}

/**
 * The integrity the bytes are checked against: the strongest algorithm of the SRI `integrity`,
 * or, when it names none usable, the sha1 `shasum` as SRI. Undefined when neither is usable.
 * This is also what an inspection records as verified.
 */
export function integrityToVerify(expected: { integrity?: unknown; shasum?: unknown }): string | undefined {
  if (typeof expected.integrity === 'string' && expected.integrity.trim() !== '') {
    const strongest = strongestDigests(expected.integrity);
    if (strongest) return [...strongest.digests].map((d) => `${strongest.algorithm}-${d}`).join(' ');
  }
  if (typeof expected.shasum === 'string' && /^[0-9a-fA-F]{40}$/.test(expected.shasum)) {
    return `sha1-${Buffer.from(expected.shasum, 'hex').toString('base64')}`;
  }
  return undefined;
}

/** Whether bytes match an integrity string (its strongest algorithm); false when it names nothing verifiable. */
export function matchesIntegrityString(bytes: Buffer, integrity: string): boolean {
  const wanted = strongestDigests(integrity);
  return wanted !== undefined && wanted.digests.has(createHash(wanted.algorithm).update(bytes).digest('base64'));
}

/**
 * Whether bytes match the integrity their packument names (as integrityToVerify chooses it):
 * for a stored copy read again, verified when it was fetched. False when nothing is usable.
 */
export function matchesIntegrity(bytes: Buffer, expected: { integrity?: unknown; shasum?: unknown }): boolean {
  const integrity = integrityToVerify(expected);
  return integrity !== undefined && matchesIntegrityString(bytes, integrity);
}
