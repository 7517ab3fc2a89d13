'use strict';
/*
 * A tiny deterministic npm tarball writer: ustar entries under package/, mode 0644, uid/gid 0,
 * a fixed mtime, and a gzip wrapper without a timestamp, so identical input gives identical
 * bytes (and integrity). Plain CommonJS so the benchmark does not depend on the TypeScript
 * test support.
 */
const crypto = require('crypto');
const zlib = require('zlib');

const BLOCK = 512;
const MTIME = 499162500; // 1985-10-26T08:15:00Z, the date npm pack uses

function writeString(buf, value, offset, length) {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar header field too long: ${value}`);
  bytes.copy(buf, offset);
}

function writeOctal(buf, value, offset, length) {
  writeString(buf, value.toString(8).padStart(length - 1, '0') + '\0', offset, length);
}

function header(path, size) {
  if (Buffer.byteLength(path) > 100) throw new Error(`path too long for this writer: ${path}`);
  const h = Buffer.alloc(BLOCK, 0);
  writeString(h, path, 0, 100);
  writeOctal(h, 0o644, 100, 8);
  writeOctal(h, 0, 108, 8);
  writeOctal(h, 0, 116, 8);
  writeOctal(h, size, 124, 12);
  writeOctal(h, MTIME, 136, 12);
  h.fill(0x20, 148, 156); // checksum placeholder
  h[156] = 0x30; // regular file
  writeString(h, 'ustar\0', 257, 6);
  writeString(h, '00', 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, sum.toString(8).padStart(6, '0') + '\0 ', 148, 8);
  return h;
}

/** files: { 'package.json': string|Buffer, 'index.js': ... } -> gzipped tarball bytes. */
function buildTarball(files) {
  const parts = [];
  for (const [rel, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8');
    parts.push(header(`package/${rel}`, data.length), data);
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return zlib.gzipSync(Buffer.concat(parts), { level: 9 });
}

const integrityOf = (buf) => `sha512-${crypto.createHash('sha512').update(buf).digest('base64')}`;
const shasumOf = (buf) => crypto.createHash('sha1').update(buf).digest('hex');

module.exports = { buildTarball, integrityOf, shasumOf };
