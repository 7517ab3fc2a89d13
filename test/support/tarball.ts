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

// ---------------------------------------------------------------------------------------
// Hand-crafted (possibly hostile) archives for reader tests.

/** One raw tar entry, written exactly as described (no path normalisation, no checks). */
export interface RawTarEntry {
  /** The 100-byte name field. */
  name: string;
  /** The 155-byte ustar prefix field. */
  prefix?: string;
  /** Typeflag character; default '0' (regular file). 'x' pax, 'g' global pax, 'L' GNU long name, '2' symlink, '5' directory. */
  type?: string;
  body?: string | Buffer;
  /** The size field, when it should not be the body's length. */
  size?: number;
  linkpath?: string;
  /** 'ustar' (POSIX, the default), 'gnu' ("ustar  \0") or 'none'. */
  magic?: 'ustar' | 'gnu' | 'none';
  /** Writes a wrong checksum. */
  badChecksum?: boolean;
}

function rawHeader(e: RawTarEntry, size: number): Buffer {
  const header = Buffer.alloc(BLOCK, 0);
  writeString(header, e.name, 0, 100);
  writeOctal(header, e.type === '5' ? 0o755 : 0o644, 100, 8);
  writeOctal(header, 0, 108, 8);
  writeOctal(header, 0, 116, 8);
  writeOctal(header, size, 124, 12);
  writeOctal(header, TARBALL_MTIME, 136, 12);
  header.fill(0x20, 148, 156);
  header.write(e.type ?? '0', 156, 1, 'latin1');
  if (e.linkpath) writeString(header, e.linkpath, 157, 100);
  const magic = e.magic ?? 'ustar';
  if (magic === 'ustar') {
    writeString(header, 'ustar\0', 257, 6);
    writeString(header, '00', 263, 2);
  } else if (magic === 'gnu') {
    writeString(header, 'ustar  \0', 257, 8);
  }
  if (e.prefix) writeString(header, e.prefix, 345, 155);
  let sum = 0;
  for (const byte of header) sum += byte;
  if (e.badChecksum) sum += 1;
  writeString(header, sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return header;
}

/** Pax extended-header records (`<len> <key>=<value>\n`), with correct lengths. */
export function paxRecords(records: Record<string, string>): Buffer {
  const out: Buffer[] = [];
  for (const [key, value] of Object.entries(records)) {
    const body = ` ${key}=${value}\n`;
    let len = Buffer.byteLength(body) + 1;
    while (String(len).length + Buffer.byteLength(body) !== len) len = String(len).length + Buffer.byteLength(body);
    out.push(Buffer.from(`${len}${body}`, 'utf8'));
  }
  return Buffer.concat(out);
}

/**
 * An uncompressed tar of raw entries, in order. `end: false` leaves out the end-of-archive
 * marker; `trailing` is appended after it.
 */
export function buildRawTar(entries: RawTarEntry[], opts: { end?: boolean; trailing?: Buffer } = {}): Buffer {
  const chunks: Buffer[] = [];
  for (const e of entries) {
    const body = typeof e.body === 'string' ? Buffer.from(e.body, 'utf8') : (e.body ?? Buffer.alloc(0));
    chunks.push(rawHeader(e, e.size ?? body.length));
    chunks.push(body);
    const pad = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (pad) chunks.push(Buffer.alloc(pad, 0));
  }
  if (opts.end !== false) chunks.push(Buffer.alloc(BLOCK * 2, 0));
  if (opts.trailing) chunks.push(opts.trailing);
  return Buffer.concat(chunks);
}

/** buildRawTar, gzipped. */
export function buildRawTarball(entries: RawTarEntry[], opts: { end?: boolean; trailing?: Buffer } = {}): Buffer {
  return gzipSync(buildRawTar(entries, opts));
}
