/**
 * Deterministic npm-style package tarballs for hermetic tests.
 *
 * A tiny ustar writer (no dependency on `tar`): every entry lives under
 * `package/`, regular files are mode 0644, owned by uid/gid 0, with a fixed
 * mtime, and the gzip wrapper carries no timestamp, so identical input always
 * yields identical bytes (and therefore identical integrity hashes).
 */
import { createHash } from 'crypto';
import { gzipSync } from 'zlib';

/** Fixed mtime for every entry (1985-10-26T08:15:00Z, the date npm pack uses). */
export const TARBALL_MTIME = 499162500;

const BLOCK = 512;

function writeString(header: Buffer, value: string, offset: number, length: number): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) {
    throw new Error(`tar header field too long (${bytes.length} > ${length}): ${value}`);
  }
  bytes.copy(header, offset);
}

/** Zero-padded octal number with a trailing NUL, filling `length` bytes. */
function writeOctal(header: Buffer, value: number, offset: number, length: number): void {
  const digits = value.toString(8);
  if (digits.length > length - 1) {
    throw new Error(`tar numeric field overflow: ${value}`);
  }
  writeString(header, digits.padStart(length - 1, '0') + '\0', offset, length);
}

/** Splits a path into ustar (prefix, name) so that name <= 100 and prefix <= 155 bytes. */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name.length > 0) {
      return { name, prefix };
    }
  }
  throw new Error(`path too long for ustar: ${path}`);
}

function fileHeader(path: string, size: number): Buffer {
  const header = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitPath(path);
  writeString(header, name, 0, 100);
  writeOctal(header, 0o644, 100, 8); // mode
  writeOctal(header, 0, 108, 8); // uid
  writeOctal(header, 0, 116, 8); // gid
  writeOctal(header, size, 124, 12); // size
  writeOctal(header, TARBALL_MTIME, 136, 12); // mtime
  header.fill(0x20, 148, 156); // checksum placeholder: 8 spaces
  header[156] = 0x30; // typeflag '0': regular file
  writeString(header, 'ustar\0', 257, 6); // magic
  writeString(header, '00', 263, 2); // version
  writeString(header, prefix, 345, 155);
  let sum = 0;
  for (const byte of header) sum += byte;
  // Checksum: six octal digits, NUL, space.
  writeString(header, sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return header;
}

function normalizeEntryPath(file: string): string {
  const rel = file.replace(/\\/g, '/').replace(/^\.?\/+/, '').replace(/^package\//, '');
  if (!rel || rel.split('/').some((part) => part === '..' || part === '')) {
    throw new Error(`invalid tarball entry path: ${JSON.stringify(file)}`);
  }
  return `package/${rel}`;
}

/**
 * Builds a gzipped ustar archive. Keys are paths relative to the package root
 * (a leading `package/` is accepted and not doubled); entries are written in
 * key order.
 */
export function buildTarball(files: Record<string, string | Buffer>): Buffer {
  const chunks: Buffer[] = [];
  const seen = new Set<string>();
  for (const [file, content] of Object.entries(files)) {
    const path = normalizeEntryPath(file);
    if (seen.has(path)) throw new Error(`duplicate tarball entry: ${path}`);
    seen.add(path);
    const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    chunks.push(fileHeader(path, body.length));
    chunks.push(body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad) chunks.push(Buffer.alloc(pad, 0));
  }
  chunks.push(Buffer.alloc(BLOCK * 2, 0)); // end-of-archive marker
  return gzipSync(Buffer.concat(chunks), { level: 9 });
}

/** Subresource-integrity string as npm records it: `sha512-<base64>`. */
export function integrityOf(buf: Buffer): string {
  return `sha512-${createHash('sha512').update(buf).digest('base64')}`;
}

/** Legacy `dist.shasum`: sha1 hex. */
export function shasumOf(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}
