/**
 * Audit answered by the gatekeeper: npm (bulk), pnpm (full) and direct calls to
 * the quick endpoint report an advisory imported offline, merged with the upstream's
 * advisories when the upstream has the endpoint, and from our store alone when it does not.
 */
import { gzipSync } from 'node:zlib';
import { runGatekeeper } from '../support/cli';
import { writeOsvFile } from '../support/osv';
import { tempDir } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { runTool, toolEnv } from '../support/tools';
import { gatekeeperSuite } from '../support/suite';

const OSV_ID = 'GHSA-4444-5555-6666';
const UPSTREAM_GHSA = 'GHSA-8fxw-76j4-5wqw';

describe('audit answered by the gatekeeper', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'offline-vuln', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.0.1', license: 'MIT' }] },
      { name: 'upstream-vuln', versions: [{ version: '2.0.0', license: 'MIT' }, { version: '2.0.1', license: 'MIT' }] },
      { name: 'clean-dep', versions: [{ version: '1.0.0', license: 'MIT' }] },
    ],
    // @acme/* is private here: the upstream's @acme/secret is another package.
    settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }] },
  });
  let project: string;
  const gatekeeper = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);
  const post = (endpoint: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(new URL(`-/npm/v1/security/${endpoint}`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: headers['content-encoding'] === 'gzip' ? gzipSync(JSON.stringify(body)) : JSON.stringify(body) });

  beforeAll(async () => {
    s.upstream.setAdvisories({
      'upstream-vuln': [{ id: 2001, url: `https://github.com/advisories/${UPSTREAM_GHSA}`, title: 'Upstream says so', severity: 'high', vulnerable_versions: '<2.0.1' }],
      '@acme/secret': [{ id: 2002, url: 'https://github.com/advisories/GHSA-2222-3333-4444', title: 'Malware in the public @acme/secret', severity: 'critical', vulnerable_versions: '*' }],
    });
    // Audit reports what is known whatever the rule says; the rule off lets the vulnerable versions install.
    expect((await gatekeeper('policy', 'set', 'advisories', 'off')).code).toBe(0);
    const file = writeOsvFile({ id: OSV_ID, name: 'offline-vuln', fixed: '1.0.1', severity: 'CRITICAL' });
    expect((await gatekeeper('advisories', 'import', file)).out).toBe('imported 1 advisories for offline-vuln');
    project = await makeProject(s.npm.dir, { name: 'audited', version: '1.0.0', dependencies: { 'offline-vuln': '1.0.0', 'upstream-vuln': '2.0.0', 'clean-dep': '1.0.0' } });
    expect((await s.npm.run(['install', '--ignore-scripts', '--no-audit'], { cwd: project })).code).toBe(0);
  });

  it('bulk: our advisory merged with the upstream answer (npm audit)', async () => {
    const audit = await s.npm.run(['audit', '--json'], { cwd: project, env: { npm_config_audit: 'true' } });
    const report = JSON.parse(audit.stdout);
    expect(report.vulnerabilities['offline-vuln']).toMatchObject({ severity: 'critical' });
    expect(report.vulnerabilities['offline-vuln'].via[0]).toMatchObject({ url: `https://github.com/advisories/${OSV_ID}`, title: 'Known only offline' });
    expect(report.vulnerabilities['upstream-vuln']).toMatchObject({ severity: 'high' });
    expect(report.vulnerabilities['clean-dep']).toBeUndefined();

    const direct = await post('advisories/bulk', { 'offline-vuln': ['1.0.0', '1.0.1'], 'upstream-vuln': ['2.0.0'], 'clean-dep': ['1.0.0'] }, { 'content-encoding': 'gzip' });
    expect(direct.status).toBe(200);
    const body = (await direct.json()) as Record<string, Array<{ id: number; severity: string; vulnerable_versions: string; url: string }>>;
    expect(Object.keys(body).sort()).toEqual(['offline-vuln', 'upstream-vuln']);
    expect(body['offline-vuln']).toEqual([expect.objectContaining({ severity: 'critical', vulnerable_versions: '>=0.0.0-0 <1.0.1', url: `https://github.com/advisories/${OSV_ID}` })]);
    expect(typeof body['offline-vuln'][0].id).toBe('number');
  });

  it('quick and full: a dependency tree answered with findings and counts (pnpm audit)', async () => {
    const tree = { name: 'audited', version: '1.0.0', requires: { 'clean-dep': '1.0.0' }, dependencies: { 'clean-dep': { version: '1.0.0', dependencies: { 'offline-vuln': { version: '1.0.0' } } } } };
    for (const endpoint of ['audits/quick', 'audits']) {
      const res = await post(endpoint, tree);
      expect([endpoint, res.status]).toEqual([endpoint, 200]);
      const report = (await res.json()) as any;
      const advisories = Object.values(report.advisories) as any[];
      expect(advisories).toEqual([expect.objectContaining({ module_name: 'offline-vuln', severity: 'critical', github_advisory_id: OSV_ID, findings: [{ version: '1.0.0', paths: ['clean-dep>offline-vuln'] }] })]);
      expect(report.metadata.vulnerabilities).toEqual({ info: 0, low: 0, moderate: 0, high: 0, critical: 1 });
    }

    const home = tempDir('gk-audit-tools-');
    const env = toolEnv(home, s.t.url);
    const pnpmProject = await makeProject(home, { name: 'pnpm-audited', version: '1.0.0', dependencies: { 'offline-vuln': '1.0.0' } });
    expect((await runTool('pnpm', ['install', '--registry', s.t.url, '--ignore-scripts', '--reporter', 'append-only'], { cwd: pnpmProject, env })).code).toBe(0);
    const pnpmAudit = await runTool('pnpm', ['audit', '--json', '--registry', s.t.url], { cwd: pnpmProject, env });
    expect(pnpmAudit.output).toContain(OSV_ID);
    expect(pnpmAudit.output).toContain('"module_name": "offline-vuln"');

  });

  it('answers from our advisories alone when the upstream has no audit endpoint', async () => {
    s.upstream.fault({ path: '/-/npm/v1/security/advisories/bulk' }, { status: 405, body: '{"error":"method not allowed"}' });
    s.upstream.fault({ path: '/-/npm/v1/security/audits/quick' }, { status: 404, body: '{"error":"not found"}' });
    try {
      const bulk = await post('advisories/bulk', { 'offline-vuln': ['1.0.0'] });
      expect(bulk.status).toBe(200);
      expect(Object.keys((await bulk.json()) as object)).toEqual(['offline-vuln']);
      const quick = await post('audits/quick', { dependencies: { 'offline-vuln': { version: '1.0.0' } } });
      expect(quick.status).toBe(200);
      expect(((await quick.json()) as any).metadata.vulnerabilities.critical).toBe(1);
      const audit = await s.npm.run(['audit', '--json'], { cwd: project, env: { npm_config_audit: 'true' } });
      expect(JSON.parse(audit.stdout).vulnerabilities['offline-vuln']).toMatchObject({ severity: 'critical' });
    } finally {
      s.upstream.clearFaults();
    }
  });

  it('refuses a gzip bomb once it inflates past the body limit, off the event loop, and answers hostile names as clean without querying them', async () => {
    // 64 MB of spaces, about 62 KB on the wire: past the audit's 10 MB once inflated.
    const bomb = gzipSync(Buffer.concat([Buffer.from('{"offline-vuln":["1.0.0"],"pad":"'), Buffer.alloc(64 * 1024 * 1024, 32), Buffer.from('"}')]));
    expect(bomb.length).toBeLessThan(100 * 1024);
    const [refused, ping] = await Promise.all([
      fetch(new URL('-/npm/v1/security/advisories/bulk', s.t.url), { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb }),
      fetch(new URL('-/ping', s.t.url)),
    ]);
    expect(ping.status).toBe(200);
    expect(refused.status).toBe(413);
    expect(((await refused.json()) as { error: string }).error).toBe('[EPAYLOADTOOLARGE] the audit request is larger than 10mb once decompressed. Audit fewer packages at once');
    const hostile = await post('advisories/bulk', { 'a\u0000b': ['1.0.0'], '../../x': ['1.0.0'], 'A B': ['1.0.0'], ['x'.repeat(300)]: ['1.0.0'], 'offline-vuln': ['1.0.0', '1.0.0\u0000'] });
    const text = await hostile.text();
    expect(hostile.status).toBe(200);
    expect(text).not.toMatch(/select|advisories"\./i);
    expect(Object.keys(JSON.parse(text))).toEqual(['offline-vuln']);
  });

  it('never sends a private name upstream, nor reports the upstream advisories of the public package of that name; what a private package depends on is still asked about', async () => {
    const from = s.upstream.requests.length;
    const bulk = await post('advisories/bulk', { '@acme/secret': ['1.0.0'], 'upstream-vuln': ['2.0.0'] });
    expect(bulk.status).toBe(200);
    expect(Object.keys((await bulk.json()) as object)).toEqual(['upstream-vuln']);
    const tree = { name: 'app', version: '1.0.0', dependencies: { '@acme/secret': { version: '1.0.0', dependencies: { 'upstream-vuln': { version: '2.0.0' } } } } };
    const quick = await post('audits/quick', tree);
    expect(quick.status).toBe(200);
    const report = (await quick.json()) as { advisories: Record<string, { module_name: string }> };
    expect(Object.values(report.advisories).map((a) => a.module_name)).toEqual(['upstream-vuln']);
    const sent = s.upstream.requests.slice(from).filter((r) => r.url.startsWith('/-/npm/v1/security/'));
    expect(sent.map((r) => [r.url, JSON.parse(r.body ?? 'null')])).toEqual([
      ['/-/npm/v1/security/advisories/bulk', { 'upstream-vuln': ['2.0.0'] }],
      ['/-/npm/v1/security/audits/quick', { name: 'app', version: '1.0.0', dependencies: { 'upstream-vuln': { version: '2.0.0' } } }],
    ]);
  });

  it('refuses an upstream answer that is no audit answer (EUPSTREAM), not a report that looks clean without its advisories', async () => {
    for (const body of ['<html>maintenance</html>', 'null', '[]', '{"upstream-vuln":"high"}']) {
      s.upstream.fault({ path: '/-/npm/v1/security/advisories/bulk' }, { status: 200, body, headers: { 'content-type': 'application/json' } });
      try {
        const res = await post('advisories/bulk', { 'upstream-vuln': ['2.0.0'] });
        expect([body, res.status, res.statusText]).toEqual([body, 502, expect.stringMatching(/^\[EUPSTREAM\] the upstream's audit endpoint answered with something that is not an audit answer/)]);
      } finally {
        s.upstream.clearFaults();
      }
    }
  });

  it('answers the bulk route in the bulk format however its path is spelled, and asks the upstream at its own path', async () => {
    const from = s.upstream.requests.length;
    for (const spelling of ['advisories/%62ulk', 'advisories/bulk/']) {
      const res = await post(spelling, { 'upstream-vuln': ['2.0.0'] });
      expect([spelling, res.status, Object.keys((await res.json()) as object)]).toEqual([spelling, 200, ['upstream-vuln']]);
    }
    expect(s.upstream.requests.slice(from).filter((r) => r.url.includes('/security/')).map((r) => r.url)).toEqual(['/-/npm/v1/security/advisories/bulk', '/-/npm/v1/security/advisories/bulk']);
  });

  it('refuses a request naming more versions than any project has, before reading them', async () => {
    const versions = Array.from({ length: 200_001 }, (_, i) => `0.0.${i}`);
    const res = await post('advisories/bulk', { 'clean-dep': versions });
    expect([res.status, res.statusText]).toEqual([400, expect.stringMatching(/^\[EVALIDATION\] the audit request is not valid: too many versions/)]);
  });

  it('refuses bodies that are not audit requests with a code', async () => {
    for (const [endpoint, body] of [['advisories/bulk', '[1,2]'], ['advisories/bulk', '{"x":'], ['audits/quick', 'null'], ['advisories/bulk', '{"x":"1.0.0"}']] as const) {
      const res = await fetch(new URL(`-/npm/v1/security/${endpoint}`, s.t.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([endpoint, body, res.status]).toEqual([endpoint, body, 400]);
      expect(res.statusText).toMatch(/^\[EVALIDATION\] /);
    }
  });
});
