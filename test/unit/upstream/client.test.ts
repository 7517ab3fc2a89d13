/**
 * The upstream client against the fixture registry (and its fault hooks) on 127.0.0.1.
 */
import { mkdtemp, readdir, rm } from 'fs/promises';
import http from 'http';
import type { AddressInfo } from 'net';
import os from 'os';
import path from 'path';
import { createHash, randomBytes } from 'crypto';
import { PassThrough, Readable, Transform } from 'stream';
import { gzipSync } from 'zlib';
import { GatekeeperError } from '../../../src/core/errors';
import { integrityToVerify } from '../../../src/core/integrity';
import { UpstreamClient, type UpstreamClientOptions } from '../../../src/upstream/client';
import { startFixtureRegistry, type FixtureRegistry } from '../../support/fixture-registry';
import { integrityOf, shasumOf } from '../../support/tarball';
import { eventually } from '../../support/assert';

async function failure(promise: Promise<unknown>): Promise<GatekeeperError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatekeeperError);
    return err as GatekeeperError;
  }
  throw new Error('expected a GatekeeperError, but the call succeeded');
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('UpstreamClient', () => {
  let registry: FixtureRegistry;
  let other: FixtureRegistry;
  let client: UpstreamClient;

  const make = (opts: Partial<UpstreamClientOptions> = {}): UpstreamClient =>
    new UpstreamClient({ registry: registry.url, timeoutMs: 5000, maxBytes: 1024 * 1024, ...opts });
  const since = (r: FixtureRegistry, n: number) => r.requests.slice(n);

  beforeAll(async () => {
    other = await startFixtureRegistry([{ name: 'elsewhere', versions: [{ version: '1.0.0' }] }]);
    registry = await startFixtureRegistry([
      { name: 'plain', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', description: 'x'.repeat(3000) }] },
      { name: '@acme/plain', versions: [{ version: '1.0.0' }] },
      {
        name: 'liar',
        versions: [
          { version: '1.2.0', wrongIntegrity: true },
          { version: '1.3.0', dist: { integrity: null } },
          { version: '1.4.0', dist: { integrity: null, shasum: null } },
        ],
      },
    ]);
    registry.addVersion('liar', { version: '2.0.0', dist: { tarball: `${other.url}elsewhere/-/elsewhere-1.0.0.tgz`, integrity: integrityOf(other.tarball('elsewhere', '1.0.0')) } });
    registry.setAdvisories({
      plain: [{ id: 1, url: 'http://advisories.invalid/1', title: 'Bad', severity: 'high', vulnerable_versions: '<1.1.0' }],
    });
  });

  beforeEach(() => {
    client = make();
  });

  afterEach(() => {
    registry.clearFaults();
    other.clearFaults();
  });

  afterAll(async () => {
    await registry?.close();
    await other?.close();
  });

  describe('packument', () => {
    it('reads full and abbreviated packuments, scoped names escaped', async () => {
      const before = registry.requests.length;
      const full = await client.packument('plain');
      expect(full.status).toBe(200);
      expect((full as { body: any }).body.versions['1.0.0'].license).toBe('MIT');
      const abbreviated = await client.packument('@acme/plain', { abbreviated: true });
      expect((abbreviated as { body: any }).body).toMatchObject({ name: '@acme/plain', modified: expect.any(String) });
      const reqs = since(registry, before);
      expect(reqs.map((r) => r.url)).toEqual(['/plain', '/@acme%2fplain']);
      expect(reqs[0].headers.accept).toBe('application/json');
      expect(reqs[1].headers.accept).toMatch(/^application\/vnd\.npm\.install-v1\+json/);
    });

    it('answers 404 for a package the upstream does not have', async () => {
      expect(await client.packument('no-such-package')).toEqual({ status: 404 });
      expect(await client.hasPackage('no-such-package')).toBe(false);
      expect(await client.hasPackage('plain')).toBe(true);
    });

    it('passes an ETag on and answers 304, and hands back the upstream ETag', async () => {
      registry.fault({ packument: 'plain' }, { headers: { etag: '"v1"' }, times: 1 });
      expect(await client.packument('plain')).toMatchObject({ status: 200, etag: '"v1"' });
      registry.fault({ packument: 'plain' }, { headers: { etag: 'unquoted, "two"' }, times: 1 });
      expect((await client.packument('plain')) as object).not.toHaveProperty('etag');
      registry.fault({ packument: 'plain' }, { status: 304, body: '' });
      const before = registry.requests.length;
      expect(await client.packument('plain', { etag: '"v1"' })).toEqual({ status: 304 });
      expect(since(registry, before)[0].headers['if-none-match']).toBe('"v1"');
      // A 304 nobody asked for is nonsense; an ETag that could split headers is not passed on.
      expect((await failure(client.packument('plain'))).code).toBe('EUPSTREAM');
      const mark = registry.requests.length;
      expect((await failure(client.packument('plain', { etag: '"v1"\r\nx-evil: 1' }))).code).toBe('EUPSTREAM');
      expect(since(registry, mark)[0].headers['if-none-match']).toBeUndefined();
    });

    it('calls anything that is not a packument EUPSTREAM, never "not found"', async () => {
      const bodies: Array<[string, RegExp]> = [
        ['{"name":"plain","versions":{"1.0.0":', /invalid or truncated JSON/],
        ['<!DOCTYPE html><html>maintenance</html>', /HTML/],
        ['[]', /an array/],
        ['null', /null/],
        ['"plain"', /a string/],
        ['42', /a number/],
        ['', /an empty body/],
        ['{"name":"other-package","versions":{}}', /names other-package instead/],
        ['{"name":"plain","versions":[]}', /versions are not an object/],
        ['{"name":"plain","dist-tags":"latest"}', /dist-tags are not an object/],
        [`{"name":"plain","x":${'['.repeat(70)}${']'.repeat(70)}}`, /nested deeper than 64/],
      ];
      for (const [body, why] of bodies) {
        registry.fault({ packument: 'plain' }, { body });
        const err = await failure(client.packument('plain'));
        expect(err.code).toBe('EUPSTREAM');
        expect(err.message).toMatch(/answered the request for the packument of plain with something that is not a packument/);
        expect(err.message).toMatch(why);
        expect((await failure(client.hasPackage('plain'))).code).toBe('EUPSTREAM');
      }
      // A version that is null is the sanitiser's business: the document itself is a packument.
      registry.fault({ packument: 'plain' }, { body: '{"versions":{"2.0.0":null}}' });
      expect(await client.packument('plain')).toEqual({ status: 200, body: { versions: { '2.0.0': null } } });
    });

    it('calls 401 and 403 refusals and other 4xx EUPSTREAMREFUSED (a 4xx: clients do not retry them), and 5xx, 408 and 429 EUPSTREAM, naming the package', async () => {
      for (const status of [401, 403]) {
        registry.fault({ packument: 'plain' }, { status, body: '{"error":"no"}' });
        const err = await failure(client.packument('plain'));
        expect([err.code, err.status]).toEqual(['EUPSTREAMREFUSED', 403]);
        expect(err.message).toMatch(new RegExp(`refused the packument of plain \\(${status}\\)\\. Check the credentials`));
        expect((await failure(client.hasPackage('plain'))).code).toBe('EUPSTREAMREFUSED');
      }
      for (const status of [400, 410, 418]) {
        registry.fault({ packument: 'plain' }, { status, body: 'x' });
        const err = await failure(client.packument('plain'));
        expect([err.code, err.status]).toEqual(['EUPSTREAMREFUSED', 403]);
        expect(err.message).toMatch(new RegExp(`answered ${status} for the packument of plain\\. Check the upstream's URL and configuration\\.$`));
      }
      for (const status of [500, 502, 503, 429, 408]) {
        registry.fault({ packument: 'plain' }, { status, body: 'x' });
        const err = await failure(client.packument('plain'));
        expect([err.code, err.status]).toEqual(['EUPSTREAM', 502]);
        expect(err.message).toContain(`answered ${status} for the packument of plain. Try again later`);
      }
    });

    it('cuts a trickling answer at the overall deadline (each byte well inside any idle timeout)', async () => {
      registry.fault({ packument: 'plain' }, { trickle: { bytes: 1, intervalMs: 50 } });
      const err = await failure(make({ timeoutMs: 500 }).packument('plain'));
      expect([err.code, err.status]).toEqual(['EUPSTREAMTIMEOUT', 504]);
      expect(err.message).toMatch(/did not deliver the packument of plain within 0\.5s\. Try again later/);
    });

    it('cuts an answer whose headers never come at the deadline', async () => {
      registry.fault({ packument: 'plain' }, { delayMs: 60_000 });
      expect((await failure(make({ timeoutMs: 300 }).packument('plain'))).code).toBe('EUPSTREAMTIMEOUT');
    });

    it('refuses bodies over the size limit: by content-length, by counting, and after decompression', async () => {
      const small = make({ maxBytes: 10 * 1024 * 1024, packumentMaxBytes: 2000 });
      const err = await failure(small.packument('plain'));
      expect([err.code, err.status]).toEqual(['EUPSTREAMTOOLARGE', 403]);
      expect(err.message).toMatch(/sent more than 2000 bytes for the packument of plain/);
      registry.fault({ packument: 'plain' }, { contentLength: null });
      expect((await failure(small.packument('plain'))).code).toBe('EUPSTREAMTOOLARGE');
      const bomb = gzipSync(Buffer.from(JSON.stringify({ name: 'plain', padding: ' '.repeat(5 * 1024 * 1024) })));
      expect(bomb.length).toBeLessThan(10_000);
      registry.fault({ packument: 'plain' }, { body: bomb, headers: { 'content-encoding': 'gzip' } });
      expect((await failure(make({ maxBytes: 1024 * 1024 }).packument('plain'))).code).toBe('EUPSTREAMTOOLARGE');
      // Compressed answers within the limit are fine.
      registry.fault({ packument: 'plain' }, { body: gzipSync(Buffer.from('{"name":"plain"}')), headers: { 'content-encoding': 'gzip' } });
      expect(await client.packument('plain')).toEqual({ status: 200, body: { name: 'plain' } });
    });

    it('calls refused and cut connections EUPSTREAM', async () => {
      const port = await closedPort();
      const down = new UpstreamClient({ registry: `http://127.0.0.1:${port}/`, timeoutMs: 5000, maxBytes: 1024 });
      const err = await failure(down.packument('plain'));
      expect(err.code).toBe('EUPSTREAM');
      expect(err.message).toBe(
        `cannot get the packument of plain from the upstream registry (http://127.0.0.1:${port}) (ECONNREFUSED). Check that the upstream is up and reachable from the gatekeeper (network, proxy, DNS, certificates).`,
      );
      registry.fault({ packument: 'plain' }, { destroyAfterBytes: 10 });
      expect((await failure(client.packument('plain'))).code).toBe('EUPSTREAM');
    });

    it('sends a GET once more when the upstream resets the connection before answering, and only once', async () => {
      const before = registry.requests.length;
      registry.fault({ packument: 'plain' }, { reset: true, times: 1 });
      const answer = await client.packument('plain');
      expect(answer.status).toBe(200);
      expect(registry.requests.slice(before).map((r) => r.url)).toEqual(['/plain', '/plain']);

      const again = registry.requests.length;
      registry.fault({ packument: 'plain' }, { reset: true, times: 3 });
      const err = await failure(client.packument('plain'));
      expect(err.code).toBe('EUPSTREAM');
      expect(err.message).toBe(
        `cannot get the packument of plain from the upstream registry (${registry.url.replace(/\/$/, '')}) (ECONNRESET). Check that the upstream is up and reachable from the gatekeeper (network, proxy, DNS, certificates).`,
      );
      expect(registry.requests.slice(again).map((r) => r.url)).toEqual(['/plain', '/plain']);
      registry.clearFaults();
    });

    it('follows redirects within the upstream, at most three', async () => {
      registry.fault({ packument: 'plain' }, { redirect: `${registry.url}plain`, times: 2 });
      const before = registry.requests.length;
      expect((await client.packument('plain')).status).toBe(200);
      expect(since(registry, before)).toHaveLength(3);
      registry.fault({ packument: 'plain' }, { redirect: '/plain' });
      const err = await failure(client.packument('plain'));
      expect(err.message).toMatch(/redirected the packument of plain more than 3 times/);
      expect(since(registry, before)).toHaveLength(3 + 4);
    });

    it('does not follow a redirect to another origin', async () => {
      registry.fault({ packument: 'plain' }, { redirect: `${other.url}elsewhere` });
      const before = other.requests.length;
      const err = await failure(client.packument('plain'));
      expect(err.code).toBe('ETARBALLORIGIN');
      // A packument's next step is the upstream's address, not the tarball hosts.
      expect(err.message).toMatch(
        new RegExp(
          `redirected the packument of plain to ${other.url.slice(0, -1).replace(/\./g, '\\.')}, which is not the upstream's origin, so it was not followed: registry documents are read only from the upstream itself\\. If the registry now lives there, an admin sets the upstream \\(GATEKEEPER_UPSTREAM\\) to that address`,
        ),
      );
      expect(err.message).not.toContain('tarball');
      expect(other.requests.length).toBe(before);
    });

    it('keeps no HTTP cache, even when the upstream allows caching and npm options name a cache', async () => {
      const cache = await mkdtemp(path.join(os.tmpdir(), 'upstream-cache-'));
      try {
        const cached = make({ npmOptions: { cache, preferOffline: true } });
        registry.fault({ packument: 'plain' }, { headers: { 'cache-control': 'public, max-age=3600' } });
        const before = registry.requests.length;
        await cached.packument('plain');
        await cached.packument('plain');
        expect(since(registry, before)).toHaveLength(2);
        expect(await readdir(cache)).toEqual([]);
      } finally {
        await rm(cache, { recursive: true, force: true });
      }
    });

    it('refuses names that are not names', async () => {
      for (const name of ['', '.', '..']) expect((await failure(client.packument(name))).code).toBe('EINVALIDNAME');
      // Anything else is escaped into one path segment.
      const before = registry.requests.length;
      expect(await client.packument('../-/ping?x#y')).toEqual({ status: 404 });
      expect(since(registry, before)[0].url).toBe('/..%2f-%2fping%3Fx%23y');
    });
  });

  describe('tarball', () => {
    const url = (name: string, file: string) => `${registry.url}${name}/-/${file}`;

    it('returns verified bytes (sha512, or the sha1 shasum when that is all there is)', async () => {
      const bytes = registry.tarball('plain', '1.0.0');
      expect((await client.tarball(url('plain', 'plain-1.0.0.tgz'), { integrity: integrityOf(bytes) })).equals(bytes)).toBe(true);
      const legacy = registry.tarball('liar', '1.3.0');
      expect((await client.tarball(url('liar', 'liar-1.3.0.tgz'), { shasum: shasumOf(legacy) })).equals(legacy)).toBe(true);
      // The strongest algorithm decides: a wrong sha1 next to a right sha512 does not matter ...
      const sha1 = integrityToVerify({ shasum: shasumOf(Buffer.from('other')) }) as string;
      expect(await client.tarball(url('plain', 'plain-1.0.0.tgz'), { integrity: `${sha1} ${integrityOf(bytes)}` })).toEqual(bytes);
      // ... and a right sha1 next to a wrong sha512 does not help.
      const err = await failure(client.tarball(url('plain', 'plain-1.0.0.tgz'), { integrity: `${integrityToVerify({ shasum: shasumOf(bytes) })} ${integrityOf(Buffer.from('x'))}` }));
      expect(err.code).toBe('EINTEGRITY');
    });

    it('refuses bytes that do not match their integrity or shasum', async () => {
      const doc = (await client.packument('liar')) as { body: any };
      const dist = doc.body.versions['1.2.0'].dist;
      const err = await failure(client.tarball(dist.tarball, { integrity: dist.integrity, label: 'liar@1.2.0' }));
      expect(err.code).toBe('EINTEGRITY');
      expect(err.message).toBe(
        'the tarball of liar@1.2.0 does not match the sha512 integrity its packument names: it was corrupted or tampered with on the way. It is not served; try again later, and report it to the upstream if it persists.',
      );
      expect((await failure(client.tarball(dist.tarball, { shasum: dist.shasum }))).code).toBe('EINTEGRITY');
    });

    it('refuses a tarball with no integrity at all, without fetching it', async () => {
      const before = registry.requests.length;
      for (const expected of [{}, { integrity: 'md5-abc' }, { integrity: 'garbage', shasum: 'not-hex' }]) {
        const err = await failure(client.tarball(url('liar', 'liar-1.4.0.tgz'), expected));
        expect(err.code).toBe('EINTEGRITY');
        expect(err.message).toMatch(/^the upstream gave no integrity \(or shasum\) for the tarball of liar-1\.4\.0\.tgz/);
      }
      expect(registry.requests.length).toBe(before);
    });

    it('fetches only from the upstream origin and the tarball hosts, without sending anything elsewhere', async () => {
      const doc = (await client.packument('liar')) as { body: any };
      const dist = doc.body.versions['2.0.0'].dist;
      const before = other.requests.length;
      const err = await failure(client.tarball(dist.tarball, { integrity: dist.integrity, label: 'liar@2.0.0' }));
      expect(err.code).toBe('ETARBALLORIGIN');
      expect(err.message).toBe(
        `the tarball of liar@2.0.0 is on ${other.url.slice(0, -1)}, which is neither the upstream nor an allowed tarball host, so it was not fetched. If that host is trusted, add it to the upstream's tarball hosts.`,
      );
      expect(other.requests.length).toBe(before);

      const allowed = make({ tarballHosts: [other.url] });
      expect((await allowed.tarball(dist.tarball, { integrity: dist.integrity })).equals(other.tarball('elsewhere', '1.0.0'))).toBe(true);
      expect(other.requests.length).toBe(before + 1);

      // Same host, other port: another origin. Other schemes and credentials in the URL: refused.
      const port = new URL(registry.url).port;
      const origin = registry.url.slice(0, -1);
      for (const bad of [
        registry.url.replace(`:${port}/`, `:${Number(port) + 1}/`) + 'plain/-/plain-1.0.0.tgz',
        `https://127.0.0.1:${port}/plain/-/plain-1.0.0.tgz`,
        'file:///etc/passwd',
        `${origin.replace('http://', 'http://user:pass@')}/plain/-/plain-1.0.0.tgz`,
        'not a url',
      ]) {
        expect((await failure(client.tarball(bad, { integrity: integrityOf(Buffer.from('x')) }))).code).toBe('ETARBALLORIGIN');
      }
    });

    it('holds every redirect target to the same rule', async () => {
      const bytes = registry.tarball('plain', '1.0.0');
      const target = `${other.url}elsewhere/-/elsewhere-1.0.0.tgz`;
      registry.fault({ tarball: 'plain', version: '1.0.0' }, { redirect: target });
      const before = other.requests.length;
      const err = await failure(client.tarball(url('plain', 'plain-1.0.0.tgz'), { integrity: integrityOf(bytes) }));
      expect(err.code).toBe('ETARBALLORIGIN');
      expect(err.message).toMatch(/redirected the tarball of plain-1\.0\.0\.tgz to http:\/\/127\.0\.0\.1:\d+, which is neither/);
      expect(other.requests.length).toBe(before);
      // Allowed, the redirect is followed and the bytes it ends at are verified.
      const allowed = make({ tarballHosts: [other.url] });
      expect((await failure(allowed.tarball(url('plain', 'plain-1.0.0.tgz'), { integrity: integrityOf(bytes) }))).code).toBe('EINTEGRITY');
      const elsewhere = other.tarball('elsewhere', '1.0.0');
      expect((await allowed.tarball(url('plain', 'plain-1.0.0.tgz'), { integrity: integrityOf(elsewhere) })).equals(elsewhere)).toBe(true);
    });

    it('applies the tarball size limit, the deadline, and calls 404 and 5xx EUPSTREAM', async () => {
      const bytes = registry.tarball('plain', '1.1.0');
      const expected = { integrity: integrityOf(bytes) };
      expect((await failure(make({ maxBytes: 100, packumentMaxBytes: 1024 * 1024 }).tarball(url('plain', 'plain-1.1.0.tgz'), expected))).code).toBe('EUPSTREAMTOOLARGE');
      registry.fault({ tarball: 'plain', version: '1.1.0' }, { trickle: { bytes: 10, intervalMs: 50 } });
      expect((await failure(make({ timeoutMs: 400 }).tarball(url('plain', 'plain-1.1.0.tgz'), expected))).code).toBe('EUPSTREAMTIMEOUT');
      registry.fault({ tarball: 'plain', version: '1.1.0' }, { status: 503 });
      expect((await failure(client.tarball(url('plain', 'plain-1.1.0.tgz'), expected))).message).toMatch(/answered 503 for the tarball of plain-1\.1\.0\.tgz/);
      expect((await failure(client.tarball(url('plain', 'plain-9.9.9.tgz'), expected))).message).toMatch(/does not have the tarball of plain-9\.9\.9\.tgz \(404\), although its packument listed it: it may still be replicating it, or have taken the version down\. Try again later/);
    });
  });

  describe('ping, advisories and audit pass-through', () => {
    it('pings', async () => {
      await expect(client.ping()).resolves.toBeUndefined();
      registry.fault({ path: '/-/ping' }, { status: 404 });
      await expect(client.ping()).resolves.toBeUndefined();
      registry.fault({ path: '/-/ping' }, { status: 500 });
      expect((await failure(client.ping())).code).toBe('EUPSTREAM');
      registry.fault({ path: '/-/ping' }, { delayMs: 60_000 });
      expect((await failure(make({ timeoutMs: 300 }).ping())).code).toBe('EUPSTREAMTIMEOUT');
    });

    it('asks the bulk advisory endpoint', async () => {
      const before = registry.requests.length;
      const answer = await client.advisoriesBulk({ plain: ['1.0.0'], '@acme/plain': ['1.0.0'] });
      expect(Object.keys(answer)).toEqual(['plain']);
      expect(answer.plain).toEqual([expect.objectContaining({ id: 1, severity: 'high' })]);
      const [req] = since(registry, before);
      expect([req.method, req.url, req.headers['content-type']]).toEqual(['POST', '/-/npm/v1/security/advisories/bulk', 'application/json']);
      expect(JSON.parse(req.body ?? '')).toEqual({ plain: ['1.0.0'], '@acme/plain': ['1.0.0'] });

      const bulk = { path: '/-/npm/v1/security/advisories/bulk' };
      registry.fault(bulk, { status: 503, body: 'down' });
      expect((await failure(client.advisoriesBulk({ plain: ['1.0.0'] }))).message).toBe(
        "the upstream's advisory endpoint answered 503. Advisories are asked again on the next refresh; check the upstream if it persists.",
      );
      registry.fault(bulk, { status: 404, body: '{"error":"not found"}' });
      expect((await failure(client.advisoriesBulk({ plain: ['1.0.0'] }))).message).toMatch(/^the upstream's advisory endpoint answered 404\./);
      for (const body of ['<html></html>', '[]', '{"plain":{"id":1}}']) {
        registry.fault(bulk, { body });
        expect((await failure(client.advisoriesBulk({ plain: ['1.0.0'] }))).code).toBe('EUPSTREAM');
      }
    });

    it('searches, re-encoding the query', async () => {
      const search = { path: '/-/v1/search' };
      // The fixture has no search route (404), so the fault names its status.
      registry.fault(search, { status: 200, body: '{"objects":[{"package":{"name":"plain"}}],"total":1}' });
      const before = registry.requests.length;
      expect(await client.search('text=pl ain&size=2#frag\r\nx: y')).toEqual({ objects: [{ package: { name: 'plain' } }], total: 1 });
      expect(since(registry, before)[0].url).toBe('/-/v1/search?text=pl+ain&size=2%23frag%0D%0Ax%3A+y');
      for (const body of ['[]', 'null', '<html>']) {
        registry.fault(search, { status: 200, body });
        expect((await failure(client.search('text=x'))).code).toBe('EUPSTREAM');
      }
      registry.clearFaults();
      // The fixture has no search: 404 is an error here, not "no results".
      expect((await failure(client.search('text=x'))).message).toMatch(/answered 404 for a search/);
    });

    it('passes JSON posts through with their status, and only under the registry', async () => {
      expect(await client.postJson('/-/npm/v1/security/audits/quick', { name: 'x' })).toEqual({ status: 200, body: {} });
      registry.fault({ path: '/-/npm/v1/security/audits/quick' }, { status: 404, body: '<html>no</html>' });
      expect(await client.postJson('-/npm/v1/security/audits/quick', {})).toEqual({ status: 404, body: undefined });
      registry.fault({ path: '/-/npm/v1/security/audits/quick' }, { status: 400, body: '{"error":"bad"}' });
      expect(await client.postJson('-/npm/v1/security/audits/quick', {})).toEqual({ status: 400, body: { error: 'bad' } });
      registry.fault({ path: '/-/npm/v1/security/audits/quick' }, { body: 'not json' });
      expect((await failure(client.postJson('-/npm/v1/security/audits/quick', {}))).code).toBe('EUPSTREAM');
      registry.fault({ path: '/-/npm/v1/security/audits/quick' }, { redirect: `${registry.url}-/ping` });
      expect((await failure(client.postJson('-/npm/v1/security/audits/quick', {}))).message).toMatch(/with a redirect \(302\)/);
      const before = registry.requests.length;
      for (const bad of ['../x', '-/../../x', `${other.url}x`, '-/x?y=1']) {
        expect((await failure(client.postJson(bad, {}))).code).toBe('EVALIDATION');
      }
      expect(registry.requests.length).toBe(before);
    });
  });

  describe('npm options', () => {
    it("sends npm's credentials for the registry only, and never names them in messages", async () => {
      const nerf = `//127.0.0.1:${new URL(registry.url).port}/`;
      const authed = make({ tarballHosts: [other.url], npmOptions: { [`${nerf}:_authToken`]: 'secret-token', userAgent: 'gatekeeper-test' } });
      const before = registry.requests.length;
      await authed.packument('plain');
      const [req] = since(registry, before);
      expect(req.headers.authorization).toBe('Bearer secret-token');
      expect(req.headers['user-agent']).toBe('gatekeeper-test');
      const elsewhere = other.tarball('elsewhere', '1.0.0');
      const otherBefore = other.requests.length;
      await authed.tarball(`${other.url}elsewhere/-/elsewhere-1.0.0.tgz`, { integrity: integrityOf(elsewhere) });
      expect(since(other, otherBefore)[0].headers.authorization).toBeUndefined();
      registry.fault({ packument: 'plain' }, { status: 401 });
      expect((await failure(authed.packument('plain'))).message).not.toContain('secret');

      registry.clearFaults();
      // Credentials in the registry URL go out as Basic auth, and nowhere else.
      const inUrl = new UpstreamClient({ registry: registry.url.replace('http://', 'http://user:hunter2@'), timeoutMs: 5000, maxBytes: 1024 * 1024 });
      const mark = registry.requests.length;
      await inUrl.packument('plain');
      expect(since(registry, mark)[0].headers.authorization).toBe(`Basic ${Buffer.from('user:hunter2').toString('base64')}`);
      expect(inUrl.registry).toBe(registry.url);
      registry.fault({ packument: 'plain' }, { status: 500 });
      const err = await failure(inUrl.packument('plain'));
      expect(err.message).not.toContain('hunter2');
      expect(err.message).toContain(`the upstream registry (${registry.url.slice(0, -1)})`);
    });

    it('keeps connections to the upstream alive across calls, and uses an agent given in npm’s options', async () => {
      const pooled = make();
      const before = registry.connections;
      for (let i = 0; i < 5; i++) {
        expect((await pooled.packument('plain')).status).toBe(200);
        await pooled.advisoriesBulk({ plain: ['1.0.0'] });
      }
      expect(registry.connections - before).toBe(1);

      const given = new http.Agent({ keepAlive: false });
      const created: string[] = [];
      const createConnection = given.createConnection.bind(given);
      given.createConnection = ((options: Record<string, unknown>, cb: unknown) => {
        created.push(`${String(options.host)}:${String(options.port)}`);
        return (createConnection as (o: unknown, c: unknown) => unknown)(options, cb);
      }) as typeof given.createConnection;
      const withAgent = make({ npmOptions: { agent: given } });
      expect((await withAgent.packument('plain')).status).toBe(200);
      expect(created).toEqual([`127.0.0.1:${new URL(registry.url).port}`]);
      given.destroy();
    });

    it("goes through npm's proxy setting", async () => {
      const seen: string[] = [];
      const proxy = http.createServer((req, res) => {
        seen.push(req.url ?? '');
        const upstream = http.request(req.url ?? '', { method: req.method, headers: req.headers }, (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        });
        upstream.on('error', () => res.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      try {
        const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
        const proxied = make({ npmOptions: { proxy: proxyUrl, noProxy: '' } });
        expect((await proxied.packument('plain')).status).toBe(200);
        expect(seen).toEqual([`${registry.url}plain`]);
      } finally {
        proxy.closeAllConnections();
        await new Promise((resolve) => proxy.close(resolve));
      }
    });

    it('refuses unusable settings', () => {
      expect(() => new UpstreamClient({ registry: 'registry.example', timeoutMs: 1, maxBytes: 1 })).toThrow(GatekeeperError);
      expect(() => new UpstreamClient({ registry: 'ftp://registry.example/', timeoutMs: 1, maxBytes: 1 })).toThrow(/not an http\(s\) URL/);
      expect(() => make({ tarballHosts: ['cdn.example'] })).toThrow(/the tarball host "cdn.example" is not a URL/);
      expect(() => make({ timeoutMs: 0 })).toThrow(/must be positive/);
    });
  });
});

describe('UpstreamClient.postStream', () => {
  /** What the local upstream saw of one request. */
  interface Seen {
    method: string;
    url: string;
    headers: http.IncomingHttpHeaders;
    chunks: Buffer[];
    ended: boolean;
  }
  type Answer = (res: http.ServerResponse, body: Buffer) => void;
  const seen: Seen[] = [];
  let answer: Answer;
  let server: http.Server;
  let base: string;
  const echo: Answer = (res, body) => {
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') }));
  };
  const make = (opts: Partial<UpstreamClientOptions> = {}): UpstreamClient => new UpstreamClient({ registry: base, timeoutMs: 5000, maxBytes: 1024 * 1024, ...opts });
  const received = (s: Seen): number => s.chunks.reduce((n, c) => n + c.length, 0);

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, chunks: [], ended: false };
      seen.push(s);
      const reply = answer;
      req.on('data', (chunk: Buffer) => s.chunks.push(chunk));
      req.on('end', () => {
        s.ended = true;
        reply(res, Buffer.concat(s.chunks));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/registry/`;
  });

  beforeEach(() => {
    answer = echo;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('sends the body as it is read, and it arrives whole, with the headers given and npm credentials', async () => {
    const nerf = `//127.0.0.1:${new URL(base).port}/registry/`;
    const client = make({ npmOptions: { [`${nerf}:_authToken`]: 'audit-token' } });
    const body = new PassThrough();
    const first = randomBytes(256 * 1024);
    const second = randomBytes(300 * 1024);
    const before = seen.length;
    body.write(first);
    const call = client.postStream('-/npm/v1/security/audits/quick', body, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    // The upstream has the first part while the rest has not even been written: nothing waits for the whole body.
    await eventually(async () => seen.length > before && received(seen[before]) >= first.length, 'the first part to reach the upstream');
    expect(seen[before].ended).toBe(false);
    body.end(second);
    const result = await call;
    const whole = Buffer.concat([first, second]);
    expect(result).toEqual({
      status: 200,
      body: Buffer.from(JSON.stringify({ bytes: whole.length, sha256: createHash('sha256').update(whole).digest('hex') })),
      contentType: 'application/json; charset=utf-8',
    });
    const req = seen[before];
    expect([req.method, req.url]).toEqual(['POST', '/registry/-/npm/v1/security/audits/quick']);
    expect(req.headers).toMatchObject({
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'transfer-encoding': 'chunked',
      authorization: 'Bearer audit-token',
      accept: 'application/json',
    });
    expect(req.headers['content-length']).toBeUndefined();
  });

  it('returns answers below 500 with their status; 5xx, redirects and paths outside the registry are errors', async () => {
    const client = make();
    answer = (res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":"bad audit"}');
    };
    expect(await client.postStream('-/npm/v1/security/audits', Readable.from([Buffer.from('{}')]))).toEqual({
      status: 400,
      body: Buffer.from('{"error":"bad audit"}'),
      contentType: 'application/json',
    });
    answer = (res) => {
      res.writeHead(503);
      res.end('down');
    };
    let err = await failure(client.postStream('-/npm/v1/security/audits', Readable.from([Buffer.from('{}')])));
    expect([err.code, err.status]).toEqual(['EUPSTREAM', 502]);
    expect(err.message).toBe(`the upstream registry (${base.replace(/\/registry\/$/, '')}) answered 503 for the request to -/npm/v1/security/audits. Try again later; if it persists, check the upstream.`);
    answer = (res) => {
      res.writeHead(302, { location: `${base}elsewhere` });
      res.end();
    };
    expect((await failure(client.postStream('-/npm/v1/security/audits', Readable.from([Buffer.from('{}')])))).message).toMatch(/with a redirect \(302\)/);

    const before = seen.length;
    for (const bad of ['../x', '-/../../x', 'http://127.0.0.1:1/x', '-/x?y=1']) {
      const body = Readable.from([Buffer.from('{}')]);
      expect((await failure(client.postStream(bad, body))).code).toBe('EVALIDATION');
      expect(body.destroyed).toBe(true);
    }
    expect((await failure(client.postStream('-/x', Readable.from([Buffer.from('{}')]), { 'content-encoding': 'gzip\u0000' }))).code).toBe('EVALIDATION');
    expect(seen.length).toBe(before);
  });

  it('holds the whole call to one deadline: an upstream that never answers, and a body that never ends', async () => {
    answer = () => undefined;
    const client = make({ timeoutMs: 400 });
    let body: Readable = Readable.from([Buffer.from('{}')]);
    let err = await failure(client.postStream('-/npm/v1/security/audits/quick', body));
    expect([err.code, err.status]).toEqual(['EUPSTREAMTIMEOUT', 504]);
    expect(err.message).toMatch(/did not deliver the request to -\/npm\/v1\/security\/audits\/quick within 0\.4s/);

    answer = echo;
    const stalled = new PassThrough();
    stalled.write('{"a":');
    body = stalled;
    err = await failure(client.postStream('-/npm/v1/security/audits/quick', body));
    expect(err.code).toBe('EUPSTREAMTIMEOUT');
    expect(stalled.destroyed).toBe(true);
  });

  it('limits the answer: by content-length and by counting', async () => {
    const client = make({ maxBytes: 10 * 1024 * 1024, packumentMaxBytes: 1000 });
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '5000' });
      res.end('x'.repeat(5000));
    };
    const err = await failure(client.postStream('-/npm/v1/security/audits/quick', Readable.from([Buffer.from('{}')])));
    expect([err.code, err.status]).toEqual(['EUPSTREAMTOOLARGE', 403]);
    expect(err.message).toMatch(/sent more than 1000 bytes for the request to -\/npm\/v1\/security\/audits\/quick/);
    answer = (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('x'.repeat(800));
      res.end('x'.repeat(800));
    };
    expect((await failure(client.postStream('-/npm/v1/security/audits/quick', Readable.from([Buffer.from('{}')])))).code).toBe('EUPSTREAMTOOLARGE');
  });

  it("throws the body's own GatekeeperError as it is, and any other failure of the body as EVALIDATION", async () => {
    const client = make();
    let sent = 0;
    const bounded = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        sent += chunk.length;
        if (sent > 100_000) return done(new GatekeeperError('EPAYLOADTOOLARGE', 'the audit request is too large. Audit fewer packages at once'));
        done(null, chunk);
      },
    });
    Readable.from([randomBytes(60_000), randomBytes(60_000)]).pipe(bounded);
    const err = await failure(client.postStream('-/npm/v1/security/audits/quick', bounded));
    expect([err.code, err.message]).toEqual(['EPAYLOADTOOLARGE', 'the audit request is too large. Audit fewer packages at once']);

    const broken = new PassThrough();
    broken.write('{"a":');
    const call = client.postStream('-/npm/v1/security/audits/quick', broken);
    setImmediate(() => broken.destroy(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })));
    const other = await failure(call);
    expect(other.code).toBe('EVALIDATION');
    expect(other.message).toBe('the body of the request to -/npm/v1/security/audits/quick could not be read to the end (ECONNRESET), so it was not passed on. Send the request again.');
  });
});
