/**
 * /-/gatekeeper/metrics: what the real npm CLI's installs did, counted by route, status and
 * code, read back as Prometheus text by an admin; refused (coded) for anyone else, and open
 * to a configured address without credentials. Each instance reports only itself.
 */
import { ErrorCodes } from '../../src/core/errors';
import { ADMIN_PASSWORD, loginToken, startTestGatekeeper } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { eventually } from '../support/assert';
import { parseMetrics, Sample, samplesOf, sumOf } from '../support/prometheus';
import { gatekeeperSuite } from '../support/suite';

interface Scrape {
  status: number;
  statusText: string;
  contentType: string | null;
  text: string;
}

async function scrape(base: string, authorization?: string): Promise<Scrape> {
  const res = await fetch(new URL('-/gatekeeper/metrics', base), { headers: authorization ? { authorization } : {} });
  return { status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type'), text: await res.text() };
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

/** A refusal through the one error writer: `[CODE] what happened. what to do next`, status from the code. */
function expectCodedRefusal(answer: Scrape, code: keyof typeof ErrorCodes): void {
  expect(answer.status).toBe(ErrorCodes[code]);
  const body = JSON.parse(answer.text) as { code: string; error: string };
  expect(body.code).toBe(code);
  expect(body.error).toMatch(new RegExp(`^\\[${code}\\] [^.]+\\. \\S`));
  expect(body.error).toContain('GATEKEEPER_METRICS_ALLOW');
  expect(answer.statusText.startsWith(`[${code}]`)).toBe(true);
  expect(answer.text).not.toContain('gatekeeper_http_requests_total');
}

describe('/-/gatekeeper/metrics', () => {
  const s = gatekeeperSuite({
    packages: [
      { name: 'metrics-banned', versions: [{ version: '1.0.0', license: 'MIT' }] },
      { name: 'metrics-allowed', versions: [{ version: '1.0.0', license: 'MIT' }] },
      // About 6 MB of packument, built while any heap growth asks for a collection (V8's own
      // collections during the build would make a larger threshold a matter of timing).
      { name: 'metrics-large', versions: Array.from({ length: 30 }, (_, i) => ({ version: `1.0.${i}`, license: 'MIT', description: `version ${i} `.repeat(20_000) })) },
    ],
    // An allowed subnet that is not this test's address: credentials are still needed.
    settings: { metricsAllow: ['10.255.0.0/16'], heapReclaim: '1b' },
    policyMode: 'none',
  });
  let devToken: string;

  const adminScrape = async (): Promise<Sample[]> => {
    const answer = await scrape(s.t.url, `Bearer ${s.t.adminToken}`);
    expect(answer.status).toBe(200);
    return parseMetrics(answer.text);
  };

  beforeAll(async () => {
    for (const name of ['metrics-banned', 'metrics-allowed', 'metrics-large']) {
      expect((await s.t.api('POST', '/approvals', { name, reason: 'metrics test' })).status).toBe(201);
    }
    expect((await s.t.api('POST', '/bans', { name: 'metrics-banned', reason: 'banned for the metrics test' })).status).toBe(201);
    expect((await s.t.api('POST', '/users', { username: 'dev', password: 'dev-password', role: 'developer' })).status).toBe(201);
    devToken = await loginToken(s.t.url, 'dev', 'dev-password');
  });

  it('counts a blocked npm install by its code: decisions, the refused request and the blocked install', async () => {
    const before = await adminScrape();
    expect(sumOf(before, 'gatekeeper_decisions_total', { code: 'EBANNED' })).toBe(0);

    const project = await makeProject(s.npm.dir, { name: 'blocked-project' });
    const blocked = await s.npm.run(['install', 'metrics-banned'], { cwd: project });
    expect(blocked.code).not.toBe(0);
    expect(blocked.output).toContain('[EBANNED]');

    const after = await adminScrape();
    expect(sumOf(after, 'gatekeeper_decisions_total', { outcome: 'denied', code: 'EBANNED', rule: 'ban' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(after, 'gatekeeper_http_requests_total', { route: 'packument', status: '403', code: 'EBANNED' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(after, 'gatekeeper_installs_blocked_total', { code: 'EBANNED', rule: 'ban', via: 'packument' })).toBeGreaterThanOrEqual(1);
    // Package names never become labels.
    expect(after.some((s) => Object.values(s.labels).some((v) => v.includes('metrics-banned')))).toBe(false);
  });

  it('counts an allowed install as allowed, with its cache misses and upstream calls (admin via Basic credentials)', async () => {
    const project = await makeProject(s.npm.dir, { name: 'allowed-project' });
    const installed = await s.npm.run(['install', 'metrics-allowed'], { cwd: project });
    expect(installed.code).toBe(0);

    const answer = await scrape(s.t.url, basic('admin', ADMIN_PASSWORD));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseMetrics(answer.text);
    expect(sumOf(samples, 'gatekeeper_decisions_total', { outcome: 'allowed', code: 'ALLOWED' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: 'packument', status: '200', code: 'none' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: 'tarball', status: '200', code: 'none' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'gatekeeper_installs_blocked_total', { code: 'ALLOWED' })).toBe(0);
    // Both packages were read from the upstream once at least, and the packument cache missed first.
    expect(sumOf(samples, 'gatekeeper_upstream_request_duration_seconds_count', { operation: 'packument' })).toBeGreaterThanOrEqual(2);
    expect(sumOf(samples, 'gatekeeper_upstream_request_duration_seconds_count', { operation: 'tarball' })).toBeGreaterThanOrEqual(1);
    expect(sumOf(samples, 'gatekeeper_cache_misses_total', { cache: 'packuments' })).toBeGreaterThanOrEqual(1);
    for (const cache of ['packuments', 'decisions', 'tokens', 'tarballs']) {
      expect(samplesOf(samples, 'gatekeeper_cache_hits_total', { cache })).toHaveLength(1);
    }
  });

  it('reports the database pool, the LISTEN connection, the audit queue and process metrics', async () => {
    const slowBefore = sumOf(await adminScrape(), 'gatekeeper_listen_slow_heartbeats_total');
    // What the listener says when a heartbeat is late on a link the database host acknowledged.
    s.t.gk.listener.emit('slow');
    const samples = await adminScrape();
    expect(sumOf(samples, 'gatekeeper_listen_slow_heartbeats_total')).toBe(slowBefore + 1);
    expect(sumOf(samples, 'gatekeeper_listen_connected')).toBe(1);
    expect(sumOf(samples, 'gatekeeper_policy_trusted')).toBe(1);
    expect(sumOf(samples, 'gatekeeper_db_pool_max')).toBe(10);
    expect(samplesOf(samples, 'gatekeeper_db_pool_connections').map((s) => s.labels.state).sort()).toEqual(['creating', 'free', 'pending', 'used']);
    expect(samplesOf(samples, 'gatekeeper_audit_queue_depth')).toHaveLength(1);
    // The blocked install and the admin's changes were audited.
    await eventually(async () => sumOf(await adminScrape(), 'gatekeeper_audit_entries_written_total') >= 1, 'audit entries written');
    expect(samplesOf(samples, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(samplesOf(samples, 'nodejs_heap_size_used_bytes')).toHaveLength(1);
  });

  it('a packument build asks the heap reclaimer to look, and the collection it asks for is counted', async () => {
    const heap = s.t.gk.runtime.heap;
    const check = jest.spyOn(heap, 'check');
    const collections = async () => sumOf(await adminScrape(), 'gatekeeper_heap_reclaims_total', {});
    const before = await collections();
    expect(before).toBe(heap.stats().collections);
    // Live arrays (1 MB each, in V8's heap) beyond the reclaimer's baseline, held through the
    // build: the growth it looks for is there whatever V8 collects meanwhile (the build's
    // garbage alone made this a matter of timing).
    const held = Array.from({ length: Math.ceil(heap.stats().baselineBytes / 1048576) + 16 }, (_, i) => new Array<number>(131072).fill(i));
    try {
      const res = await fetch(new URL('metrics-large', s.t.url), { headers: { authorization: `Bearer ${devToken}` } });
      expect(res.status).toBe(200);
      expect(Object.keys(((await res.json()) as { versions: object }).versions)).toHaveLength(30);
      expect(check).toHaveBeenCalled();
      // A second after the build (and at most once per 10 s).
      await eventually(async () => (await collections()) > before, 'the collection after the build', 30_000);
    } finally {
      held.length = 0;
      check.mockRestore();
    }
    expect(await collections()).toBe(heap.stats().collections);
    expect(sumOf(await adminScrape(), 'gatekeeper_heap_reclaim_seconds_total', {})).toBeGreaterThan(0);
  });

  it('a policy reload asks the heap reclaimer to look', async () => {
    const check = jest.spyOn(s.t.gk.runtime.heap, 'check');
    try {
      expect((await s.t.api('POST', '/approvals', { name: 'metrics-reload-check', reason: 'a policy change reloads the policy' })).status).toBe(201);
      expect(check).toHaveBeenCalled();
    } finally {
      check.mockRestore();
    }
  });

  it("counts this instance's background job runs", async () => {
    // Due at start, so the runner may be running it already; either way one run ends here.
    await s.t.gk.runtime.jobs.runNow('advisories.refresh');
    await eventually(async () => sumOf(await adminScrape(), 'gatekeeper_job_runs_total', { job: 'advisories.refresh' }) >= 1, 'a job run to be counted');
    const samples = await adminScrape();
    const runs = sumOf(samples, 'gatekeeper_job_runs_total', { job: 'advisories.refresh' });
    expect(sumOf(samples, 'gatekeeper_job_run_duration_seconds_count', { job: 'advisories.refresh' })).toBe(runs);
    expect(samplesOf(samples, 'gatekeeper_job_healthy', { job: 'advisories.refresh' })).toHaveLength(1);
  });

  it('refuses anonymous and non-admin scrapes with a coded error, and counts them', async () => {
    expectCodedRefusal(await scrape(s.t.url), 'EUNAUTHENTICATED');
    expectCodedRefusal(await scrape(s.t.url, `Bearer ${devToken}`), 'EFORBIDDEN');
    expectCodedRefusal(await scrape(s.t.url, basic('dev', 'dev-password')), 'EFORBIDDEN');
    // The refusals are requests of the metrics route like any other.
    await eventually(async () => {
      const samples = await adminScrape();
      return (
        sumOf(samples, 'gatekeeper_http_requests_total', { route: 'metrics', status: '401', code: 'EUNAUTHENTICATED' }) === 1 &&
        sumOf(samples, 'gatekeeper_http_requests_total', { route: 'metrics', status: '403', code: 'EFORBIDDEN' }) === 2
      );
    }, 'the refused scrapes to be counted');
  });

  it('lets a configured address scrape without credentials; each instance reports only itself', async () => {
    const other = await startTestGatekeeper({ upstream: s.upstream.url, settings: { metricsAllow: ['127.0.0.1'] } });
    try {
      const answer = await scrape(other.url);
      expect(answer.status).toBe(200);
      const samples = parseMetrics(answer.text);
      expect(samplesOf(samples, 'gatekeeper_listen_connected')).toHaveLength(1);
      // Its own registry: none of the first instance's installs are in it.
      expect(sumOf(samples, 'gatekeeper_decisions_total')).toBe(0);
      expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: 'packument' })).toBe(0);
      // And the first instance still counts what it did.
      expect(sumOf(await adminScrape(), 'gatekeeper_decisions_total', { code: 'EBANNED' })).toBeGreaterThanOrEqual(1);
    } finally {
      await other.close();
    }
  });
});
