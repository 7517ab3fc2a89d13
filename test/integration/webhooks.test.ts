/**
 * Impact records and webhooks, with real parts: a fixture upstream, a gatekeeper (and a second
 * one on the same database), the real npm CLI and `gatekeeper` CLI, PostgreSQL, and a webhook
 * receiver on 127.0.0.1 that checks each delivery's HMAC with the secret shown at creation.
 *
 * A project recorded with `gatekeeper check --record` uses hook-lib@1.0.0; an OSV MAL- entry
 * without severity for it is imported: the receiver gets a signed malware.in_use naming the
 * project (after answering 500 once: the delivery is retried, the log shows both attempts),
 * and `gatekeeper advisories impact` lists the record. Re-importing adds nothing; a project
 * recorded afterwards extends the record. request.created, request.decided and
 * policy.changed arrive; refused installs of one package are one install.blocked event with
 * a count; two gatekeepers on one database deliver each event once.
 */
import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { eventually } from '../support/assert';
import { runGatekeeper } from '../support/cli';
import { startTestGatekeeper, TestGatekeeper, tempDir } from '../support/gatekeeper';
import { makeProject } from '../support/npm';
import { Recorded, Recorder, startRecorder } from '../support/recorder';
import { gatekeeperSuite } from '../support/suite';
import pino from 'pino';
import { createKnex } from '../../src/db/connection';
import { Store } from '../../src/db/store';
import { WebhookService } from '../../src/services/webhooks';

const LIB = 'hook-lib';
const BLOCKED = 'hook-blocked';
const VULN = 'hook-vuln';
const MAL_ID = 'MAL-2026-7001';

const old = new Date(Date.now() - 30 * 86_400_000);

/** Fast retries and polling for the test; everything else as configured by default. */
const SETTINGS = { webhookInterval: '1s', webhookRetryBase: '1s', webhookTimeout: '5s', webhookMaxAttempts: 3, jobPoll: '1s', installBlockedInterval: '1h', advisoryRefresh: '2s' } as const;

interface Delivery {
  id: string;
  event: string;
  createdAt: string;
  data: Record<string, any>;
}

describe('impact records and webhooks', () => {
  let receiver: Recorder;
  let b: TestGatekeeper | undefined;
  const secrets = new Map<string, string>();
  const hookIds = new Map<string, number>();

  const cli = (...argv: string[]) => runGatekeeper({ GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken }, argv);

  /** A delivery as received, its signature checked with the secret of the webhook at that path. */
  const verified = (r: Recorded): Delivery => {
    const secret = secrets.get(r.path) as string;
    const expected = `sha256=${createHmac('sha256', secret).update(r.raw).digest('hex')}`;
    expect(r.headers['x-gatekeeper-signature']).toBe(expected);
    const body = JSON.parse(r.raw.toString('utf8')) as Delivery;
    expect(r.headers['x-gatekeeper-event']).toBe(body.event);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['x-gatekeeper-delivery']).toMatch(/^\d+$/);
    expect(Object.keys(body).sort()).toEqual(['createdAt', 'data', 'event', 'id']);
    return body;
  };
  const received = (p: string, event: string) => receiver.to(p).filter((r) => r.status === 200 && JSON.parse(r.raw.toString('utf8')).event === event).map(verified);

  // The second gatekeeper (started by a test, on the first one's database) closes before that database is dropped.
  afterAll(async () => {
    await b?.close();
  });

  const s = gatekeeperSuite({
    packages: [
      { name: LIB, versions: ['1.0.0', '1.0.1'].map((version) => ({ version, license: 'MIT', publishedAt: old })) },
      { name: BLOCKED, versions: [{ version: '1.0.0', license: 'MIT', publishedAt: old }] },
    ],
    settings: SETTINGS,
  });

  beforeAll(async () => {
    // /malware answers 500 to its first delivery, then 200; /events always 200.
    // /down always answers 503; /hostile answers 500 with text whose 200th character starts an emoji, and a NUL.
    receiver = await startRecorder(({ path: p, index }) =>
      p === '/hostile' ? { status: 500, body: `${'x'.repeat(199)}\u{1F600}tail\u0000` } : { status: p === '/down' ? 503 : p === '/malware' && index === 0 ? 500 : 200, body: '{}' },
    );
  });

  afterAll(async () => {
    await receiver?.close();
  });

  it('admins register webhooks through the CLI and the API; the secret is shown once; bad URLs and events are 400 EVALIDATION; audited', async () => {
    const added = await cli('webhook', 'add', `${receiver.url}/malware`, '--events', 'malware.in_use,advisory.in_use');
    expect(added.code).toBe(0);
    const secret = /secret: (whsec_[0-9a-f]{64})/.exec(added.out)?.[1];
    expect(secret).toBeDefined();
    secrets.set('/malware', secret as string);
    hookIds.set('/malware', Number(/added webhook (\d+)/.exec(added.out)?.[1]));

    const created = await s.t.api('POST', '/webhooks', { url: `${receiver.url}/events`, events: ['request.created', 'request.decided', 'policy.changed', 'install.blocked'] });
    expect(created.status).toBe(201);
    expect(created.body.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    secrets.set('/events', created.body.secret);
    hookIds.set('/events', created.body.id);

    for (const [body, what] of [
      [{ url: 'ftp://127.0.0.1/x', events: ['policy.changed'] }, 'http:// or https://'],
      [{ url: 'http://user:pw@127.0.0.1/x', events: ['policy.changed'] }, 'credentials'],
      [{ url: '/relative', events: ['policy.changed'] }, 'absolute'],
      [{ url: `${receiver.url}/x`, events: ['no.such'] }, 'not a webhook event'],
      [{ url: `${receiver.url}/x`, events: [] }, 'needs events'],
    ] as const) {
      const refused = await s.t.api('POST', '/webhooks', body);
      expect(refused.status).toBe(400);
      expect(refused.body.code).toBe('EVALIDATION');
      expect(refused.body.error).toContain(what);
    }
    expect((await s.t.api('DELETE', '/webhooks/999999')).body.code).toBe('ENOTFOUND');
    expect((await s.t.api('DELETE', '/webhooks/abc')).body.code).toBe('EVALIDATION');

    const listed = await cli('webhook', 'list', '--json');
    const items = JSON.parse(listed.out).items as Array<Record<string, unknown>>;
    expect(items.map((w) => w.url)).toEqual([`${receiver.url}/malware`, `${receiver.url}/events`]);
    expect(listed.out).not.toContain('whsec_');

    // A webhook added and removed: both audited, never with the secret.
    const extra = await s.t.api('POST', '/webhooks', { url: `${receiver.url}/gone?token=abc`, events: 'policy.changed' });
    expect(extra.status).toBe(201);
    expect((await cli('webhook', 'remove', String(extra.body.id))).code).toBe(0);
    const audit = await s.t.api('GET', '/audit?action=webhook.create');
    expect(audit.body.items).toHaveLength(3);
    const removed = await s.t.api('GET', '/audit?action=webhook.delete');
    expect(removed.body.items).toEqual([expect.objectContaining({ details: expect.objectContaining({ id: extra.body.id, url: `${receiver.url}/gone?…` }) })]);
    expect(JSON.stringify([audit.body, removed.body])).not.toContain('whsec_');
  });

  it('a MAL- entry for a version a recorded project uses: a signed malware.in_use naming the project, retried after a 500; advisories impact lists it', async () => {
    const project = await makeProject(s.npm.dir, { name: 'hook-app', version: '2.0.0' });
    const installed = await s.npm.run(['install', `${LIB}@1.0.0`, '--ignore-scripts'], { cwd: project });
    expect(installed.code).toBe(0);
    const recorded = await cli('check', path.join(project, 'package-lock.json'), '--record');
    expect(recorded.out).toContain('recorded as project hook-app@2.0.0');

    const file = path.join(tempDir('gk-osv-'), 'mal.json');
    // The OpenSSF layout: a MAL- id, no severity.
    fs.writeFileSync(
      file,
      JSON.stringify({ id: MAL_ID, summary: `Malicious code in ${LIB} (npm)`, modified: '2026-11-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: LIB }, versions: ['1.0.0'] }] }),
    );
    expect((await cli('advisories', 'import', file)).code).toBe(0);

    // The first delivery answered 500, the second 200: the same delivery, the same bytes.
    await eventually(async () => receiver.to('/malware').length >= 2, 'the malware webhook to be retried', 30_000);
    const [first, second] = receiver.to('/malware');
    expect(first.status).toBe(500);
    expect(second.status).toBe(200);
    expect(second.headers['x-gatekeeper-delivery']).toBe(first.headers['x-gatekeeper-delivery']);
    expect(second.raw.equals(first.raw)).toBe(true);
    const event = verified(second);
    expect(event.event).toBe('malware.in_use');
    expect(event.data).toMatchObject({
      package: LIB,
      created: true,
      versions: ['1.0.0'],
      advisory: { id: MAL_ID, malware: true, source: 'osv' },
      projects: [{ name: 'hook-app', version: '2.0.0', uses: `${LIB}@1.0.0` }],
    });

    // The delivery log shows both attempts.
    const log = await cli('webhook', 'deliveries', String(hookIds.get('/malware')), '--json');
    const deliveries = JSON.parse(log.out).items as Array<Record<string, any>>;
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]).toMatchObject({ event: 'malware.in_use', status: 'delivered', attempts: 2, lastStatus: 200, lastError: null });
    expect(deliveries[0].log.map((l: { status: number }) => l.status)).toEqual([500, 200]);
    expect(deliveries[0].log[0].error).toContain('500');
    const text = await cli('webhook', 'deliveries', String(hookIds.get('/malware')));
    expect(text.out).toMatch(/attempt 1 at .*: 500 \(the receiver answered 500/);

    // gatekeeper advisories impact lists the record.
    const impact = await cli('advisories', 'impact');
    expect(impact.out).toMatch(new RegExp(`${LIB}\\s+${MAL_ID}\\s+malware\\s+1\\.0\\.0\\s+open\\s+hook-app@2\\.0\\.0 \\(${LIB}@1\\.0\\.0\\)`));
    const api = await s.t.api('GET', `/advisories/impact?package=${LIB}`);
    expect(api.body.items).toEqual([expect.objectContaining({ package: LIB, advisoryId: MAL_ID, malware: true, severity: 'critical', state: 'open', versions: ['1.0.0'] })]);
    expect(api.body.items[0].projects).toEqual([expect.objectContaining({ project: 'hook-app', projectVersion: '2.0.0', version: '1.0.0', resolvedAt: null })]);
    // Admins only, and a bad state is a 400.
    expect((await s.t.api('GET', '/advisories/impact?state=nope')).body.code).toBe('EVALIDATION');
    const anonymous = await s.t.api('GET', '/advisories/impact', undefined, null);
    expect(anonymous.status).toBe(401);

    // The same entry imported again: no new record, no new project, no new event.
    expect((await cli('advisories', 'import', file)).code).toBe(0);
    await s.t.gk.runtime.webhooks.settled();
    expect((await s.t.api('GET', `/webhooks/${hookIds.get('/malware')}/deliveries`)).body.items).toHaveLength(1);
    expect((await s.t.api('GET', `/advisories/impact?package=${LIB}`)).body.items[0].projects).toHaveLength(1);
  });

  it('a project recorded after the entry extends the record and sends malware.in_use naming only it', async () => {
    const recorded = await s.t.api('POST', '/projects', { name: 'late-app', version: '0.1.0', entries: [{ name: LIB, version: '1.0.0' }] });
    expect(recorded.status).toBe(201);
    await eventually(async () => received('/malware', 'malware.in_use').length >= 2, 'a second malware.in_use', 30_000);
    const late = received('/malware', 'malware.in_use')[1];
    expect(late.data).toMatchObject({ created: false, projects: [{ name: 'late-app', version: '0.1.0', uses: `${LIB}@1.0.0` }] });
    const record = (await s.t.api('GET', `/advisories/impact?package=${LIB}`)).body.items[0];
    expect(record.projects.map((p: { project: string }) => p.project)).toEqual(['hook-app', 'late-app']);

    // late-app moves to the unaffected version: its use is resolved; the record stays open for hook-app.
    await s.t.api('POST', '/projects', { name: 'late-app', version: '0.1.0', entries: [{ name: LIB, version: '1.0.1' }] });
    const after = (await s.t.api('GET', `/advisories/impact?package=${LIB}`)).body.items[0];
    expect(after.state).toBe('open');
    expect(after.projects.find((p: { project: string }) => p.project === 'late-app').resolvedAt).not.toBeNull();
  });

  it("an admin's override marks the record overridden (its projects kept), undoing it opens it again without a new event", async () => {
    const deliveries = async () => (await s.t.api('GET', `/webhooks/${hookIds.get('/malware')}/deliveries`)).body.items.length as number;
    const count = await deliveries();
    expect((await cli('advisories', 'override', LIB, MAL_ID, '--reason', 'false positive')).code).toBe(0);
    const overridden = (await s.t.api('GET', `/advisories/impact?package=${LIB}`)).body.items[0];
    expect(overridden.state).toBe('overridden');
    expect(overridden.versions).toEqual(['1.0.0']);
    expect((await s.t.api('GET', '/advisories/impact?state=overridden')).body.items.map((r: { advisoryId: string }) => r.advisoryId)).toEqual([MAL_ID]);
    expect((await cli('advisories', 'unoverride', LIB, MAL_ID)).code).toBe(0);
    expect((await s.t.api('GET', `/advisories/impact?package=${LIB}`)).body.items[0].state).toBe('open');
    await s.t.gk.runtime.webhooks.settled();
    expect(await deliveries()).toBe(count);
  });

  it("the upstream's advisory answer for a version in use sends advisory.in_use", async () => {
    s.upstream.addPackage({ name: VULN, versions: [{ version: '2.0.0', license: 'MIT', publishedAt: old }] });
    expect((await s.t.api('POST', '/projects', { name: 'vuln-app', version: '3.0.0', entries: [{ name: VULN, version: '2.0.0' }] })).status).toBe(201);
    // The upstream has no advisory for it yet (recording the project asked): no record.
    await eventually(async () => s.upstream.requests.some((r) => r.method === 'POST' && (r.body ?? '').includes(VULN)), 'the upstream to be asked about the package');
    expect((await s.t.api('GET', `/advisories/impact?package=${VULN}`)).body.items).toEqual([]);
    // Then it has one: the next refresh (GATEKEEPER_ADVISORY_REFRESH is 2s here) stores it.
    s.upstream.setAdvisories({ [VULN]: [{ id: 4242, url: 'https://advisories.example.test/4242', title: 'Prototype pollution', severity: 'high', vulnerable_versions: '<2.1.0' }] });
    await eventually(async () => received('/malware', 'advisory.in_use').length >= 1, 'advisory.in_use', 30_000);
    expect(received('/malware', 'advisory.in_use')[0].data).toMatchObject({
      package: VULN,
      created: true,
      advisory: { severity: 'high', malware: false, source: 'upstream' },
      projects: [{ name: 'vuln-app', version: '3.0.0', uses: `${VULN}@2.0.0` }],
    });
    const impact = await cli('advisories', 'impact', VULN);
    expect(impact.out).toMatch(new RegExp(`${VULN}\\s+\\S+\\s+high\\s+2\\.0\\.0\\s+open\\s+vuln-app@3\\.0\\.0`));
  });

  it('request.created, request.decided and policy.changed arrive, signed', async () => {
    const filed = await s.t.api('POST', '/requests', { name: LIB, range: '^1.0.1', reason: 'we need it' });
    expect(filed.status).toBe(201);
    const approved = await s.t.api('POST', `/requests/${filed.body.id}/approve`, { comment: 'fine' });
    expect(approved.status).toBe(200);
    const changed = await s.t.api('PATCH', '/policy', { releaseAge: { minimum: '1d' } });
    expect(changed.status).toBe(200);
    await eventually(async () => received('/events', 'request.decided').length >= 1 && received('/events', 'policy.changed').length >= 2, 'request and policy events', 30_000);
    expect(received('/events', 'request.created')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ by: 'admin', requests: [expect.objectContaining({ id: filed.body.id, name: LIB, range: '^1.0.1', status: 'pending' })] }) }),
    ]);
    expect(received('/events', 'request.decided')).toEqual([
      expect.objectContaining({ data: expect.objectContaining({ by: 'admin', decision: 'approved', requests: [expect.objectContaining({ id: filed.body.id, status: 'approved', comment: 'fine' })] }) }),
    ]);
    const policy = received('/events', 'policy.changed').map((e) => e.data);
    expect(policy).toEqual(expect.arrayContaining([expect.objectContaining({ what: 'the request', by: 'admin' }), expect.objectContaining({ what: 'the policy', by: 'admin' })]));
    expect(policy.every((p) => Number.isInteger(p.generation))).toBe(true);
    // The malware endpoint did not subscribe to these.
    expect(new Set(receiver.to('/malware').map((r) => JSON.parse(r.raw.toString('utf8')).event))).toEqual(new Set(['malware.in_use', 'advisory.in_use']));
  });

  it('refused installs of one package are one install.blocked event with counts by code', async () => {
    expect((await s.t.api('POST', '/bans', { name: BLOCKED, range: '*', reason: 'not here' })).status).toBe(201);
    for (let i = 0; i < 4; i++) {
      const res = await fetch(new URL(`${BLOCKED}/-/${BLOCKED}-1.0.0.tgz`, s.t.url));
      expect(res.status).toBe(403);
      await res.arrayBuffer();
    }
    const before = received('/events', 'install.blocked').length;
    expect(before).toBe(0);
    // The interval ends (GATEKEEPER_INSTALL_BLOCKED_INTERVAL is 1h here: the test ends it).
    expect(s.t.gk.runtime.blockedInstalls.flush()).toBe(1);
    await eventually(async () => received('/events', 'install.blocked').length >= 1, 'install.blocked', 30_000);
    await s.t.gk.runtime.webhooks.settled();
    const deliveries = (await s.t.api('GET', `/webhooks/${hookIds.get('/events')}/deliveries`)).body.items.filter((d: { event: string }) => d.event === 'install.blocked');
    expect(deliveries).toHaveLength(1);
    const [blocked] = received('/events', 'install.blocked');
    expect(blocked.data).toMatchObject({ package: BLOCKED, counts: { EBANNED: 4 }, total: 4 });
    // Nothing counted since: a flush sends nothing.
    expect(s.t.gk.runtime.blockedInstalls.flush()).toBe(0);
  });

  it('two gatekeepers on one database deliver each event once', async () => {
    b = await startTestGatekeeper({ upstream: s.upstream.url, db: s.t.db, settings: SETTINGS });
    const before = receiver.to('/events').length;
    // Ten events from both instances.
    for (let i = 0; i < 10; i++) {
      const via = i % 2 === 0 ? s.t : b;
      expect((await via.api('PATCH', '/policy', { releaseAge: { minimum: `${i + 2}d` } })).status).toBe(200);
    }
    await s.t.gk.runtime.webhooks.settled();
    await b.gk.runtime.webhooks.settled();
    // Both instances' workers, and both asked directly at the same time, compete for the rows.
    await Promise.all([s.t.gk.runtime.webhooks.deliverDue(), b.gk.runtime.webhooks.deliverDue(), s.t.gk.runtime.webhooks.deliverDue(), b.gk.runtime.webhooks.deliverDue()]);
    await eventually(async () => {
      const items = (await s.t.api('GET', `/webhooks/${hookIds.get('/events')}/deliveries`)).body.items as Array<{ status: string }>;
      return items.every((d) => d.status === 'delivered');
    }, 'every delivery to be delivered', 30_000);
    const fresh = receiver.to('/events').slice(before);
    const ids = fresh.map((r) => r.headers['x-gatekeeper-delivery']);
    expect(ids).toHaveLength(10);
    expect(new Set(ids).size).toBe(10);
    const eventIds = fresh.map((r) => verified(r).id);
    expect(new Set(eventIds).size).toBe(10);
    const items = (await s.t.api('GET', `/webhooks/${hookIds.get('/events')}/deliveries?limit=10`)).body.items as Array<{ attempts: number }>;
    expect(items.every((d) => d.attempts === 1)).toBe(true);
  });

  it('a receiver that keeps failing: retried with backoff up to webhook_max_attempts, then the delivery is failed', async () => {
    const down = await s.t.api('POST', '/webhooks', { url: `${receiver.url}/down`, events: ['policy.changed'] });
    expect(down.status).toBe(201);
    expect((await s.t.api('PATCH', '/policy', { releaseAge: { minimum: '30d' } })).status).toBe(200);
    const deliveries = async () => (await s.t.api('GET', `/webhooks/${down.body.id}/deliveries`)).body.items as Array<Record<string, any>>;
    await eventually(async () => (await deliveries())[0]?.status === 'failed', 'the delivery to fail', 30_000);
    const [failed] = await deliveries();
    expect(failed).toMatchObject({ event: 'policy.changed', attempts: 3, lastStatus: 503, nextAttemptAt: null });
    expect(failed.lastError).toContain('the receiver answered 503');
    expect(failed.log.map((l: { status: number }) => l.status)).toEqual([503, 503, 503]);
    // Each retry waited longer than the one before (1 s, then 2 s: GATEKEEPER_WEBHOOK_RETRY_BASE is 1s here).
    const at = failed.log.map((l: { at: string }) => Date.parse(l.at));
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(1000);
    expect(at[2] - at[1]).toBeGreaterThanOrEqual(2000);
    expect(receiver.to('/down')).toHaveLength(3);
    expect(new Set(receiver.to('/down').map((r) => r.headers['x-gatekeeper-delivery'])).size).toBe(1);
    expect((await s.t.api('DELETE', `/webhooks/${down.body.id}`)).status).toBe(200);
  });

  it("a receiver's hostile answer (a surrogate pair at the cut, a NUL) is logged cleanly, and the delivery still fails after its attempts", async () => {
    const hostile = await s.t.api('POST', '/webhooks', { url: `${receiver.url}/hostile`, events: ['policy.changed'] });
    expect(hostile.status).toBe(201);
    expect((await s.t.api('PATCH', '/policy', { releaseAge: { minimum: '31d' } })).status).toBe(200);
    const deliveries = async () => (await s.t.api('GET', `/webhooks/${hostile.body.id}/deliveries`)).body.items as Array<Record<string, any>>;
    await eventually(async () => (await deliveries())[0]?.status === 'failed', 'the hostile delivery to fail', 30_000);
    const [failed] = await deliveries();
    expect(failed).toMatchObject({ attempts: 3, lastStatus: 500 });
    expect(failed.log).toHaveLength(3);
    for (const text of [failed.lastError, ...failed.log.map((l: { error: string }) => l.error)]) {
      expect(text.startsWith(`the receiver answered 500: ${'x'.repeat(20)}`)).toBe(true);
      expect(text).not.toMatch(/[\uD800-\uDFFF\u0000]/);
    }
    expect(receiver.to('/hostile')).toHaveLength(3);
    // /health, which anyone may read in open mode, names the status but never repeats what the receiver said.
    const health = await fetch(new URL('-/gatekeeper/v1/health', s.t.url));
    expect(((await health.json()) as { webhooks: { lastDeliveryError: string } }).webhooks.lastDeliveryError).toBe('the receiver answered 500');
    expect((await s.t.api('DELETE', `/webhooks/${hostile.body.id}`)).status).toBe(200);
  });

  it('a delivery claimed more often than webhook_max_attempts (its outcomes were not recorded) is failed, not sent again', async () => {
    const hook = await s.t.api('POST', '/webhooks', { url: `${receiver.url}/unrecorded`, events: ['policy.changed'] });
    expect(hook.status).toBe(201);
    // As after three attempts whose outcome could not be written: the claims counted them, the row is still pending.
    const [row] = await s.t.gk.database.knex('webhook_deliveries').insert({ webhook_id: hook.body.id, event_id: 'unrecorded', event: 'policy.changed', body: '{}', attempts: 3 }).returning('id');
    // Sent by this call or by the webhooks.deliver job, whichever claims it first.
    await s.t.gk.runtime.webhooks.deliverDue();
    const read = () => s.t.gk.database.knex('webhook_deliveries').where({ id: row.id }).first();
    await eventually(async () => (await read()).status !== 'pending', 'the delivery to be finished', 30_000);
    const stored = await read();
    expect(stored).toMatchObject({ status: 'failed', attempts: 4 });
    expect(stored.last_error).toContain('gave up after 3 attempts');
    expect(receiver.to('/unrecorded')).toHaveLength(0);
    expect((await s.t.api('DELETE', `/webhooks/${hook.body.id}`)).status).toBe(200);
  });

  it('the delivery log drops finished deliveries after 30 days, keeps newer ones', async () => {
    const hook = hookIds.get('/events') as number;
    const before = (await s.t.api('GET', `/webhooks/${hook}/deliveries?limit=1000`)).body.items as Array<{ id: string }>;
    const oldest = before[before.length - 1].id;
    await s.t.gk.database.knex('webhook_deliveries').where({ id: oldest }).update({ created_at: new Date(Date.now() - 31 * 86_400_000) });
    // The hourly webhooks.prune job's run.
    expect(s.t.gk.runtime.jobs.health()['webhooks.prune']).toBeDefined();
    expect(await s.t.gk.runtime.webhooks.prune()).toBe(1);
    const after = (await s.t.api('GET', `/webhooks/${hook}/deliveries?limit=1000`)).body.items as Array<{ id: string }>;
    expect(after.map((d) => d.id)).toEqual(before.slice(0, -1).map((d) => d.id));
  });

  it('/health reports the webhooks', async () => {
    const health = await s.t.api('GET', '/health');
    expect(health.body.webhooks).toMatchObject({ ok: true, enqueueFailures: 0, lastEnqueueError: null });
    expect(health.body.jobs['webhooks.deliver']).toBeDefined();
  });

  it('a flush of refusals of 1,200 packages queues its 1,200 install.blocked events in three statements, not 1,200 at once', async () => {
    for (const p of ['/events', '/malware']) expect((await s.t.api('DELETE', `/webhooks/${hookIds.get(p)}`)).status).toBe(200);
    const flood = await s.t.api('POST', '/webhooks', { url: `${receiver.url}/flood`, events: ['install.blocked'] });
    expect(flood.status).toBe(201);
    const inserts: string[] = [];
    const onQuery = (q: { sql: string }) => {
      if (/^insert into webhook_deliveries/i.test(q.sql.trim())) inserts.push(q.sql);
    };
    s.t.gk.database.knex.on('query', onQuery);
    try {
      for (let i = 0; i < 1200; i++) s.t.gk.runtime.blockedInstalls.count(`flood-${i}`, 'ENOTAPPROVED');
      expect(s.t.gk.runtime.blockedInstalls.flush()).toBe(1200);
      await s.t.gk.runtime.webhooks.settled();
    } finally {
      s.t.gk.database.knex.off('query', onQuery);
    }
    expect(inserts).toHaveLength(3);
    const rows = await s.t.gk.database.knex('webhook_deliveries').where({ webhook_id: flood.body.id }).select('event_id', 'body');
    expect(rows).toHaveLength(1200);
    expect(new Set(rows.map((r: { event_id: string }) => r.event_id)).size).toBe(1200);
    expect(new Set(rows.map((r: { body: string }) => JSON.parse(r.body).data.package))).toEqual(new Set(Array.from({ length: 1200 }, (_, i) => `flood-${i}`)));
    expect((await s.t.api('GET', '/health')).body.webhooks).toMatchObject({ ok: true, enqueueFailures: 0 });
    expect((await s.t.api('DELETE', `/webhooks/${flood.body.id}`)).status).toBe(200);
  });
});

describe('queueing a webhook event when the database cannot be reached', () => {
  it('never throws into the caller; the failure is logged, counted in health and not retried', async () => {
    // A real PostgreSQL client pointed at a port where nothing listens.
    const knex = createKnex('postgres://postgres@127.0.0.1:1/none', 1);
    const lines: string[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(line) });
    const service = new WebhookService(new Store(knex), logger, { timeoutMs: 1000, maxAttempts: 2, retryBaseMs: 1000, retryMaxMs: 1000, pollMs: 1000 });
    try {
      expect(() => service.emit('policy.changed', { what: 'the policy', by: 'admin' })).not.toThrow();
      expect(service.health().ok).toBe(true);
      await service.settled();
      expect(service.health()).toMatchObject({ ok: false, enqueueFailures: 1, lastEnqueueError: expect.stringContaining('ECONNREFUSED') });
      expect(lines.filter((l) => l.includes('could not be queued'))).toHaveLength(1);
      // Nothing is retried behind the caller's back.
      await service.settled();
      expect(service.health().enqueueFailures).toBe(1);
    } finally {
      await knex.destroy();
    }
  });
});
