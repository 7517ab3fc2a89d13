/**
 * An upstream that needs a token: the gatekeeper takes the upstream's credentials from npm's
 * user config (NPM_CONFIG_USERCONFIG, with ${VAR} expanded as npm does) and serves the
 * upstream's packages; without them it answers EUPSTREAM, never "not found" (which would let
 * anyone take the name).
 */
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import type { Settings } from '../../src/server/config';
import { startFixtureRegistry, FixtureRegistry } from '../support/fixture-registry';
import { startTestGatekeeper, TestGatekeeper, tempDir } from '../support/gatekeeper';
import { createNpmEnv, makeProject } from '../support/npm';

const TOKEN = 'upstream-secret-token-7f3a';

/**
 * Runs fn with these environment variables set, and every other spelling of their names
 * (npm reads them in any case, and jest run through npx inherits npm_config_userconfig)
 * removed; restores the environment afterwards.
 */
async function withEnv<T>(vars: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  const saved = new Map<string, string | undefined>();
  const names = new Set(Object.keys(vars).map((k) => k.toLowerCase()));
  for (const key of Object.keys(process.env)) {
    if (!names.has(key.toLowerCase())) continue;
    saved.set(key, process.env[key]);
    delete process.env[key];
  }
  for (const [key, value] of Object.entries(vars)) {
    if (!saved.has(key)) saved.set(key, undefined);
    process.env[key] = value;
  }
  try {
    return await fn();
  } finally {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
}

describe('an upstream that requires a token', () => {
  let upstream: FixtureRegistry;
  let dir: string;
  let nerf: string;

  beforeAll(async () => {
    upstream = await startFixtureRegistry([{ name: 'authed-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], { requireToken: TOKEN });
    upstream.setAdvisories({ 'authed-fixture': [{ id: 7, url: 'http://advisories.invalid/7', title: 'Leaky', severity: 'high', vulnerable_versions: '<2.0.0' }] });
    nerf = `//127.0.0.1:${new URL(upstream.url).port}/`;
    dir = tempDir('gk-npmrc-');
  });

  afterAll(async () => {
    await upstream?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const startWith = async (npmrc: string, env: Record<string, string> = {}, settings: Partial<Settings> = {}): Promise<TestGatekeeper> => {
    const file = path.join(dir, `${Math.random().toString(36).slice(2)}.npmrc`);
    fs.writeFileSync(file, npmrc);
    const t = await withEnv({ NPM_CONFIG_USERCONFIG: file, ...env }, () => startTestGatekeeper({ upstream: upstream.url, settings }));
    await t.api('PATCH', '/policy', { mode: 'open' });
    return t;
  };

  it('names an upstream URL that carries credentials without them, in /health (anonymous) and in the log', async () => {
    const withCredentials = upstream.url.replace('http://', 'http://mirror-user:S3CRET-upstream-token@');
    const t = await startWith('', {}, { upstream: withCredentials });
    try {
      const health = await fetch(new URL('-/gatekeeper/v1/health', t.url));
      const text = await health.text();
      expect(JSON.parse(text).upstream.url).toBe(upstream.url);
      expect(text).not.toContain('S3CRET');
      expect(text).not.toContain('mirror-user');
      expect(fs.readFileSync(t.logFile, 'utf8')).not.toContain('S3CRET');
    } finally {
      await t.close();
    }
  });

  it("serves the upstream's packages with the token from npm's user config, and never logs it", async () => {
    const t = await startWith(`${nerf}:_authToken=\${GK_TEST_UPSTREAM_TOKEN}\n`, { GK_TEST_UPSTREAM_TOKEN: TOKEN });
    const npm = await createNpmEnv(t.url);
    try {
      const before = upstream.requests.length;
      const res = await fetch(new URL('authed-fixture', t.url), { headers: { accept: 'application/json' } });
      expect(res.status).toBe(200);
      expect(Object.keys(((await res.json()) as { versions: object }).versions)).toEqual(['1.0.0']);

      const project = await makeProject(npm.dir, { name: 'uses-authed' });
      const install = await npm.run(['install', 'authed-fixture@1.0.0', '--ignore-scripts'], { cwd: project });
      expect(install.code).toBe(0);
      const installed = JSON.parse(fs.readFileSync(path.join(project, 'node_modules', 'authed-fixture', 'package.json'), 'utf8')) as { version: string };
      expect(installed.version).toBe('1.0.0');
      // npm audit goes through the same client, so it carries the same credentials.
      const audit = await npm.run(['audit', '--json'], { cwd: project, env: { npm_config_audit: 'true' } });
      const report = JSON.parse(audit.stdout) as { vulnerabilities: Record<string, { severity: string; via: Array<{ title: string }> }> };
      expect(report.vulnerabilities['authed-fixture']).toMatchObject({ severity: 'high', via: [expect.objectContaining({ title: 'Leaky' })] });
      expect(upstream.requests.slice(before).filter((r) => r.url === '/-/npm/v1/security/advisories/bulk' && r.body?.includes('authed-fixture'))).not.toHaveLength(0);

      // Every request the upstream saw carried the token (none was refused).
      const seen = upstream.requests.slice(before);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.map((r) => r.headers.authorization)).toEqual(seen.map(() => `Bearer ${TOKEN}`));
      expect(fs.readFileSync(t.logFile, 'utf8')).not.toContain(TOKEN);
    } finally {
      await npm.cleanup();
      await t.close();
    }
  });

  it('answers EUPSTREAM without the token, never "not found", and sends no token meant for another host', async () => {
    // A token for another port of the same host is not the upstream's.
    const t = await startWith(`//127.0.0.1:${Number(new URL(upstream.url).port) + 1}/:_authToken=${TOKEN}\n`);
    const npm = await createNpmEnv(t.url);
    try {
      const before = upstream.requests.length;
      const res = await fetch(new URL('authed-fixture', t.url), { headers: { accept: 'application/json' } });
      const body = (await res.json()) as { code?: string; error?: string };
      // A 4xx: retrying cannot mend the credentials, so clients are not made to retry it for a minute.
      expect([res.status, body.code]).toEqual([403, 'EUPSTREAMREFUSED']);
      expect(body.error).toMatch(/refused .*\(401\)\. Check the credentials configured for the upstream/);
      const tarball = await fetch(new URL('authed-fixture/-/authed-fixture-1.0.0.tgz', t.url));
      expect([tarball.status, tarball.statusText]).toEqual([403, expect.stringMatching(/^\[EUPSTREAMREFUSED\] /)]);

      const project = await makeProject(npm.dir, { name: 'uses-authed-without' });
      const install = await npm.run(['install', 'authed-fixture@1.0.0', '--ignore-scripts'], { cwd: project, env: { npm_config_fetch_retries: '0' } });
      expect(install.code).not.toBe(0);
      expect(install.output).not.toMatch(/E404/);
      // The audit pass-through says the same: the upstream refused us, not the client's request.
      const audit = await fetch(new URL('-/npm/v1/security/advisories/bulk', t.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ 'authed-fixture': ['1.0.0'] }),
      });
      const auditBody = (await audit.json()) as { code?: string; error?: string };
      expect([audit.status, auditBody.code]).toEqual([403, 'EUPSTREAMREFUSED']);
      expect(auditBody.error).toMatch(/refused the gatekeeper .*Check the credentials configured for the upstream/);

      const seen = upstream.requests.slice(before);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((r) => r.headers.authorization === undefined)).toBe(true);
    } finally {
      await npm.cleanup();
      await t.close();
    }
  });

  it('streams audit requests to the upstream with its credentials, compressed as sent, and cuts one over the body limit', async () => {
    const t = await startWith(`${nerf}:_authToken=${TOKEN}\n`, {}, { maxBodySize: '4kb' });
    try {
      const before = upstream.requests.length;
      const res = await post(t.url, gzipSync(JSON.stringify({ 'authed-fixture': ['1.0.0'] })), { 'content-encoding': 'gzip' });
      expect(res.status).toBe(200);
      expect(JSON.parse(res.text)).toEqual({ 'authed-fixture': [expect.objectContaining({ id: 7, title: 'Leaky' })] });
      const [seen] = upstream.requests.slice(before);
      expect(seen.headers).toMatchObject({ authorization: `Bearer ${TOKEN}`, 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' });

      // Sent without a content-length, so only counting the bytes can stop it.
      const big = JSON.stringify({ 'authed-fixture': Array.from({ length: 2000 }, (_, i) => `1.0.${i}`) });
      expect(big.length).toBeGreaterThan(4 * 1024);
      const cut = await post(t.url, Buffer.from(big));
      expect([cut.status, JSON.parse(cut.text).code]).toEqual([413, 'EPAYLOADTOOLARGE']);
      expect(JSON.parse(cut.text).error).toMatch(/the audit request is larger than 4kb\. Audit fewer packages at once/);
      // Nothing whole reached the upstream.
      expect(upstream.requests.slice(before + 1).filter((r) => r.body === big)).toEqual([]);
    } finally {
      await t.close();
    }
  });
});

/** A chunked POST to the bulk advisory endpoint (no content-length). */
function post(base: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(new URL('-/npm/v1/security/advisories/bulk', base), { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    // Two writes: the body goes out chunked.
    req.write(body.subarray(0, 10));
    req.end(body.subarray(10));
  });
}
