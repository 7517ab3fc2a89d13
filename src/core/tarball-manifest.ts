/**
 * Reads a package tarball's own package.json (and whether it has a binding.gyp) without
 * unpacking it to disk: a small, bounded, streaming ustar/pax reader over a gunzip stream.
 *
 * npm (pacote, node-tar) extracts a tarball with `strip: 1`: whatever the top folder is called
 * (usually `package/`), `<top>/package.json` becomes the installed package.json, and an entry
 * that comes later under the same name replaces an earlier one. So nothing is settled until the
 * end of the archive: the whole archive is walked (bounded by `maxUnpackedBytes`), and a second
 * package.json anywhere it could land is an error, not "the first one wins".
 *
 * Tar readers disagree on odd archives (pax records with newlines in values, bad checksums,
 * unknown entry types, data after the end marker), and a package that reads one way here and
 * another way in a client is exactly what this module exists to catch. So the reader is strict:
 * whatever it cannot read one unambiguous way is an error, with the code the caller names
 * (EUPSTREAM for upstream tarballs, EBADPUBLISH for publishes).
 *
 * Two entry points share the reader: `readTarballManifest` (synchronous, inflating with
 * minizlib in small steps, so memory stays bounded but the event loop is busy for as long as
 * inflating takes) and `readTarballManifestAsync` (node's zlib stream, inflating on the thread
 * pool).
 */
import { win32 } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Gunzip } from 'minizlib';
import { ErrorCode, GatekeeperError } from './errors';

export interface TarballManifestLimits {
  /** Decompressed bytes read at most (tar headers, file contents and padding). Default 256 MiB. */
  maxUnpackedBytes?: number;
  /** The largest package.json accepted. Default 4 MiB. */
  maxManifestBytes?: number;
}

export interface TarballManifestOptions extends TarballManifestLimits {
  /** The code errors carry: EUPSTREAM (the default) for upstream tarballs, EBADPUBLISH for publishes. */
  errorCode?: ErrorCode;
  /** What the tarball is, for messages, e.g. "foo@1.2.3". Default "the tarball". */
  label?: string;
}

export interface TarballManifest {
  /** The package.json at the tarball's root, parsed (not sanitised: compare before you clean). */
  manifest: Record<string, unknown>;
  /** Whether there is a binding.gyp at the package root (a file or a link; npm then runs node-gyp). */
  hasBindingGyp: boolean;
}

export const DEFAULT_MAX_UNPACKED_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Pax and GNU long-name entries larger than this are refused (node-tar ignores metadata over 1 MiB). */
const MAX_META_BYTES = 1024 * 1024;
/** package.json nested deeper than this is refused (JSON.stringify, jsonb and friends recurse). */
export const MAX_MANIFEST_DEPTH = 64;
/** Compressed input is fed to the inflater in steps of this size: one step inflates to at most ~1000x. */
const INPUT_STEP = 4096;

const BLOCK = 512;

/** Entry types npm pack (and any tar an npm client accepts) writes; anything else is refused. */
const FILE_TYPES = new Set(['0', '', '7']);
const LINK_TYPES = new Set(['1', '2']);
const DIRECTORY_TYPE = '5';
const PAX_TYPES = new Set(['x', 'X']);
const GLOBAL_PAX_TYPE = 'g';
const LONG_PATH_TYPES = new Set(['L', 'N']);
const LONG_LINK_TYPE = 'K';

class Reject extends Error {}

function reject(message: string): never {
  throw new Reject(message);
}

/** A NUL-terminated string field. */
function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return (nul === -1 ? raw : raw.subarray(0, nul)).toString('utf8');
}

/** A numeric field: octal digits (optionally space or NUL padded) or base-256 for large values. */
function numeric(block: Buffer, offset: number, length: number, name: string): number {
  const raw = block.subarray(offset, offset + length);
  if (raw[0] === 0x80) {
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + raw[i];
    if (!Number.isSafeInteger(value)) reject(`a tar header's ${name} is too large`);
    return value;
  }
  if (raw[0] & 0x80) reject(`a tar header has a negative ${name}`);
  const text = field(block, offset, length).trim();
  if (!/^[0-7]*$/.test(text)) reject(`a tar header's ${name} is not a number`);
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumValid(block: Buffer): boolean {
  const text = field(block, 148, 8).trim();
  if (!/^[0-7]+$/.test(text)) return false;
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i];
  for (let i = 156; i < BLOCK; i++) sum += block[i];
  return sum === parseInt(text, 8);
}

function isZero(block: Buffer): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * Pax records, `<length> <key>=<value>\n`, read by their lengths. node-tar reads them line by
 * line instead, so a value holding a newline (or a length that does not match its record)
 * would be read differently there: refused.
 */
function parsePax(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) {
      if (!isZero(data.subarray(off))) reject('a pax header has data after a NUL');
      break;
    }
    const space = data.indexOf(0x20, off);
    if (space === -1 || space - off > 20) reject('a pax header record has no length');
    const lengthText = data.subarray(off, space).toString('latin1');
    if (!/^[0-9]+$/.test(lengthText)) reject('a pax header record has no length');
    const length = parseInt(lengthText, 10);
    const end = off + length;
    if (length <= space - off + 1 || end > data.length || data[end - 1] !== 0x0a) reject('a pax header record has the wrong length');
    const record = data.subarray(space + 1, end - 1).toString('utf8');
    if (record.includes('\n')) reject('a pax header value holds a newline');
    const eq = record.indexOf('=');
    if (eq <= 0) reject('a pax header record has no key');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    off = end;
  }
  return out;
}

function paxSize(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) reject('a pax header has an invalid size');
  return Number(value);
}

/** Files whose place in the package the reader decides on. */
const INSPECTED = new Set(['package.json', 'binding.gyp']);

/**
 * Where an entry lands under npm's `strip: 1`, compared the way a case-insensitive file system
 * would (a later `Package.JSON` replaces `package.json` on macOS and Windows). node-tar splits a
 * name at `/` only, except on Windows, where a backslash is a separator too; after dropping the
 * first component it strips what Windows counts as a root (`/`, `\`, `c:`, `C:/`, `//?/C:/`),
 * on every platform. So a name can land in two places: `x\y/package.json` is the package's
 * package.json on Linux and macOS and `y/package.json` on Windows. A name whose two landings
 * differ where one of them is a file decided on here is refused: the package would install
 * differently on different machines. `..` anywhere is refused. Undefined for the top folder.
 */
function landsAt(path: string): string | undefined {
  if (path.includes('\0')) reject('an entry name holds a NUL');
  if (path.split(/[\\/]/).some((p) => p === '..')) reject(`an entry name climbs out of the package (${JSON.stringify(path.slice(0, 200))})`);
  const posix = landing(path);
  const windows = landing(path.replace(/\\/g, '/'));
  if (posix !== windows && (INSPECTED.has(posix ?? '') || INSPECTED.has(windows ?? ''))) {
    reject(`an entry name lands at ${posix ?? 'the top folder'} on Linux and macOS but at ${windows ?? 'the top folder'} on Windows (${JSON.stringify(path.slice(0, 200))})`);
  }
  return posix;
}

/** node-tar's landing of a name split at `/`: the first component dropped, then Windows roots, `.` and empty components. */
function landing(path: string): string | undefined {
  const rest = stripRoots(path.split('/').slice(1).join('/'))
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  return rest.length === 0 ? undefined : rest.join('/').normalize('NFC').toLowerCase();
}

/** node-tar's stripAbsolutePath: every leading root as Windows reads it, on every platform. */
function stripRoots(path: string): string {
  let rest = path;
  for (;;) {
    const root = rest.charAt(0) === '/' && rest.slice(0, 4) !== '//?/' ? '/' : win32.parse(rest).root;
    if (root === '' || !(win32.isAbsolute(rest) || root)) return rest;
    rest = rest.slice(root.length);
  }
}

type Want = 'header' | 'meta' | 'manifest' | 'skip' | 'trailer';

/** The push-driven tar walker both entry points feed with decompressed bytes. */
class TarWalker {
  private want: Want = 'header';
  private need = BLOCK;
  private parts: Buffer[] = [];
  private have = 0;
  private padding = 0;
  private total = 0;
  private zeroBlocks = 0;
  private ended = false;

  /** Pending pax/GNU attributes for the next file system entry, and global pax attributes. */
  private pending: { path?: string; size?: number; linkpath?: string } = {};
  private global: { size?: number } = {};
  private metaType = '';
  private manifestText: Buffer | undefined;
  private manifestSeen = false;
  hasBindingGyp = false;

  constructor(
    private readonly maxUnpacked: number,
    private readonly maxManifest: number,
  ) {}

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > this.maxUnpacked) reject(`it unpacks to more than ${this.maxUnpacked} bytes`);
    let off = 0;
    while (off < chunk.length) {
      if (this.want === 'trailer') {
        // Zeros pad an archive to its record size; anything else after the end marker is a
        // place where another reader might find entries this one did not.
        if (!isZero(chunk.subarray(off))) reject('it has data after the end-of-archive marker');
        return;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, chunk.length - off);
        this.padding -= n;
        off += n;
        continue;
      }
      const n = Math.min(this.need - this.have, chunk.length - off);
      if (this.want !== 'skip') this.parts.push(chunk.subarray(off, off + n));
      this.have += n;
      off += n;
      if (this.have === this.need) {
        const data = this.want === 'skip' ? Buffer.alloc(0) : Buffer.concat(this.parts, this.need);
        const was = this.want;
        this.parts = [];
        this.have = 0;
        this.want = 'header';
        this.need = BLOCK;
        if (was === 'header') this.header(data);
        else this.body(was, data);
      }
    }
  }

  /** Padding that follows the body being read, skipped once the body is complete. */
  private afterBody = 0;

  /** Sets up reading an entry body of `size` bytes, then its padding to the block size. */
  private expect(want: Want, size: number): void {
    if (size === 0) return;
    this.want = want;
    this.need = size;
    this.afterBody = (BLOCK - (size % BLOCK)) % BLOCK;
  }

  private body(was: Want, data: Buffer): void {
    this.padding = this.afterBody;
    this.afterBody = 0;
    if (was === 'meta') this.meta(data);
    else if (was === 'manifest') this.manifestText = data;
  }

  private header(block: Buffer): void {
    if (isZero(block)) {
      this.zeroBlocks += 1;
      if (this.zeroBlocks >= 2) {
        this.ended = true;
        this.want = 'trailer';
      }
      return;
    }
    this.zeroBlocks = 0;
    if (!checksumValid(block)) reject('a tar header has a bad checksum');
    const type = field(block, 156, 1);
    const headerSize = numeric(block, 124, 12, 'size');

    if (PAX_TYPES.has(type) || type === GLOBAL_PAX_TYPE || LONG_PATH_TYPES.has(type) || type === LONG_LINK_TYPE) {
      if (headerSize > MAX_META_BYTES) reject(`a tar metadata entry is larger than ${MAX_META_BYTES} bytes`);
      this.metaType = type;
      if (headerSize === 0) this.meta(Buffer.alloc(0));
      else this.expect('meta', headerSize);
      return;
    }

    let isFile = FILE_TYPES.has(type);
    const isLink = LINK_TYPES.has(type);
    let isDir = type === DIRECTORY_TYPE;
    if (!isFile && !isLink && !isDir) reject(`it has an entry of an unsupported type (${JSON.stringify(type)})`);

    // The name: ustar prefix + name, unless a pax or GNU long name replaces it. A replaced name
    // with a ustar prefix as well is read differently by different readers: refused.
    const ustar = block.subarray(257, 265).toString('latin1') === 'ustar\u000000';
    const prefix = ustar ? field(block, 345, 155) : '';
    let path = field(block, 0, 100);
    if (this.pending.path !== undefined) {
      if (prefix !== '') reject('an entry has both a long name and a ustar prefix');
      path = this.pending.path;
    } else if (prefix !== '') {
      path = `${prefix}/${path}`;
    }
    if (path === '') reject('an entry has no name');
    const size = this.pending.size ?? this.global.size ?? headerSize;
    this.pending = {};
    // Old tars mark directories as files named with a trailing slash; node-tar reads them as
    // directories and skips no data, other readers skip the size. Only an empty one is unambiguous.
    if (isFile && path.endsWith('/')) {
      isFile = false;
      isDir = true;
    }
    if (isDir && size !== 0) reject('a directory entry carries data');
    if (isLink && size !== 0) reject('a link entry carries data');

    const at = landsAt(isDir ? path.replace(/\/+$/, '') : path);
    if (at === 'package.json') {
      if (!isFile) reject('its package.json is not a regular file');
      if (this.manifestSeen) reject('it has more than one package.json at the package root (a later one would replace the first)');
      this.manifestSeen = true;
      if (size > this.maxManifest) reject(`its package.json is larger than ${this.maxManifest} bytes`);
      if (size === 0) this.manifestText = Buffer.alloc(0);
      else this.expect('manifest', size);
      return;
    }
    if (at === 'binding.gyp' && !isDir) this.hasBindingGyp = true;
    this.expect('skip', size);
  }

  private meta(data: Buffer): void {
    const type = this.metaType;
    if (LONG_PATH_TYPES.has(type) || type === LONG_LINK_TYPE) {
      const nul = data.indexOf(0);
      const text = (nul === -1 ? data : data.subarray(0, nul)).toString('utf8');
      if (nul !== -1 && !isZero(data.subarray(nul))) reject('a GNU long name has data after its NUL');
      if (type === LONG_LINK_TYPE) {
        this.pending.linkpath = text;
        return;
      }
      if (this.pending.path !== undefined) reject('an entry has two long names');
      this.pending.path = text;
      return;
    }
    const records = parsePax(data);
    if (type === GLOBAL_PAX_TYPE) {
      // node-tar applies a global size to every later entry (and ignores a global path).
      const size = paxSize(records.get('size'));
      if (size !== undefined) this.global.size = size;
      return;
    }
    const path = records.get('path');
    if (path !== undefined) {
      if (this.pending.path !== undefined) reject('an entry has two long names');
      this.pending.path = path;
    }
    const size = paxSize(records.get('size'));
    if (size !== undefined) this.pending.size = size;
  }

  /** Called once the input is exhausted. */
  finish(): { text: Buffer; hasBindingGyp: boolean } {
    if (!this.ended) {
      // An archive may end without its two zero blocks, but not in the middle of an entry.
      const midEntry = this.want !== 'header' || this.have !== 0 || this.padding > 0;
      if (midEntry) reject('it ends in the middle of an entry (truncated)');
      if (this.pending.path !== undefined || this.pending.size !== undefined) reject('it ends after a long name with no entry');
    }
    if (!this.manifestSeen || this.manifestText === undefined) reject('it has no package.json at the package root');
    return { text: this.manifestText, hasBindingGyp: this.hasBindingGyp };
  }
}

type Compression = 'gzip' | 'none';

function compressionOf(tgz: Buffer): Compression {
  if (tgz.length >= 2 && tgz[0] === 0x1f && tgz[1] === 0x8b) return 'gzip';
  if (tgz.length >= 4 && tgz[0] === 0x28 && tgz[1] === 0xb5 && tgz[2] === 0x2f && tgz[3] === 0xfd) {
    reject('it is compressed with zstd, which the gatekeeper does not read');
  }
  if (tgz.length >= 263 && tgz.subarray(257, 262).toString('latin1') === 'ustar') return 'none';
  reject('it is neither gzip nor tar');
}

/** The deepest nesting of a JSON text (brackets outside strings), counted without parsing it. */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function parseManifest(raw: Buffer): Record<string, unknown> {
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (jsonNestingDepth(text) > MAX_MANIFEST_DEPTH) reject(`its package.json nests deeper than ${MAX_MANIFEST_DEPTH} levels`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    reject(`its package.json is not valid JSON (${(err as Error).message.slice(0, 120)})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) reject('its package.json is not a JSON object');
  return parsed as Record<string, unknown>;
}

function failure(err: unknown, options: TarballManifestOptions): GatekeeperError {
  const label = options.label ?? 'the tarball';
  const code = options.errorCode ?? 'EUPSTREAM';
  const next =
    code === 'EBADPUBLISH'
      ? 'Pack the package with `npm pack` (or `npm publish`) and publish again'
      : 'The upstream served a tarball npm clients may read differently; ask the package maintainers or the upstream, and do not install it until it is fixed';
  if (err instanceof Reject) return new GatekeeperError(code, `${label} cannot be read: ${err.message}. ${next}.`);
  const zlib = err as { code?: string; message?: string };
  const reason = zlib?.code === 'Z_BUF_ERROR' || /unexpected end/i.test(String(zlib?.message)) ? 'its gzip stream is truncated' : 'its gzip stream is corrupt';
  return new GatekeeperError(code, `${label} cannot be read: ${reason}. ${next}.`);
}

function limitsOf(options: TarballManifestOptions): { maxUnpacked: number; maxManifest: number } {
  return {
    maxUnpacked: options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    maxManifest: options.maxManifestBytes ?? DEFAULT_MAX_MANIFEST_BYTES,
  };
}

function result(walker: TarWalker): TarballManifest {
  const { text, hasBindingGyp } = walker.finish();
  return { manifest: parseManifest(text), hasBindingGyp };
}

/**
 * The package.json and binding.gyp of a package tarball (gzip, or plain tar as npm also
 * accepts). Throws a GatekeeperError with `options.errorCode` (default EUPSTREAM) when the
 * archive is corrupt, truncated, too large when unpacked, ambiguous, or has no usable
 * package.json. Synchronous: it inflates in small steps (memory stays bounded), but keeps the
 * event loop busy for as long as inflating takes; `readTarballManifestAsync` does not.
 */
export function readTarballManifest(tgz: Buffer, options: TarballManifestOptions = {}): TarballManifest {
  const { maxUnpacked, maxManifest } = limitsOf(options);
  const walker = new TarWalker(maxUnpacked, maxManifest);
  try {
    if (compressionOf(tgz) === 'none') {
      walker.push(tgz);
      return result(walker);
    }
    const gunzip = new Gunzip({});
    let failed: unknown;
    gunzip.on('data', (chunk: Buffer) => {
      if (failed !== undefined) return;
      try {
        walker.push(chunk);
      } catch (err) {
        failed = err;
      }
    });
    gunzip.on('error', (err: unknown) => {
      if (failed === undefined) failed = err;
    });
    for (let off = 0; off < tgz.length && failed === undefined; off += INPUT_STEP) {
      gunzip.write(tgz.subarray(off, off + INPUT_STEP));
    }
    if (failed === undefined) gunzip.end();
    if (failed !== undefined) throw failed;
    return result(walker);
  } catch (err) {
    throw failure(err, options);
  }
}

/** The same, inflating on node's thread pool instead of the event loop. */
export async function readTarballManifestAsync(tgz: Buffer, options: TarballManifestOptions = {}): Promise<TarballManifest> {
  const { maxUnpacked, maxManifest } = limitsOf(options);
  const walker = new TarWalker(maxUnpacked, maxManifest);
  try {
    if (compressionOf(tgz) === 'none') {
      walker.push(tgz);
      return result(walker);
    }
    await new Promise<void>((resolve, rejectPromise) => {
      const gunzip = createGunzip();
      let done = false;
      const fail = (err: unknown): void => {
        if (done) return;
        done = true;
        gunzip.destroy();
        rejectPromise(err);
      };
      gunzip.on('data', (chunk: Buffer) => {
        if (done) return;
        try {
          walker.push(chunk);
        } catch (err) {
          fail(err);
        }
      });
      gunzip.on('error', fail);
      gunzip.on('end', () => {
        if (done) return;
        done = true;
        resolve();
      });
      gunzip.end(tgz);
    });
    return result(walker);
  } catch (err) {
    throw failure(err, options);
  }
}
