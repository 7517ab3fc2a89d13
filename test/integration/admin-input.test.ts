/**
 * Hostile input against every admin route: each route of the route table gets bad ids, bad
 * cursors, wrong types, empty and missing fields, long strings, control characters, invalid
 * JSON, unknown fields and bad dates and durations, as an admin (so role checks hide nothing)
 * and as a reader. Every answer must be a client error or a success, never a 5xx, with the
 * one error envelope; and the server must still answer afterwards.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { ADMIN_BODY_LIMIT_BYTES, ROUTES } from '../../src/admin/router';
import { successStatuses, type RouteDef } from '../../src/admin/route';
import { ErrorCodes, isErrorCode } from '../../src/core/errors';
import { MAX_BATCH_ENTRIES } from '../../src/services/governance';
import { loginToken } from '../support/gatekeeper';
import { gatekeeperSuite } from '../support/suite';

const FIXTURES = [
  { name: 'hostile-ok', versions: [{ version: '1.0.0', license: 'MIT' }, { version: '1.1.0', license: 'MIT' }] },
  { name: 'hostile-dep', versions: [{ version: '2.0.0', license: 'MIT', dependencies: { 'hostile-ok': '^1.0.0' } }] },
  { name: '@acme/hostile', versions: [{ version: '1.0.0', license: 'ISC' }] },
  // A batch at the cap of real versions: a request is filed only for a version that exists.
  { name: 'hostile-full', versions: Array.from({ length: MAX_BATCH_ENTRIES }, (_, i) => ({ version: `1.0.${i}`, license: 'MIT' })) },
];

interface Sent {
  method: string;
  path: string;
  what: string;
  status: number;
  body: unknown;
  headers: Headers;
  /** The route the request was sent to, where a battery sent it. */
  route?: RouteDef;
}

/** Random text does not compress: a long value really is long on disk and in an index. */
const longText = (chars: number) => randomBytes(Math.ceil((chars * 3) / 4)).toString('base64').slice(0, chars);
const LONG = longText(100_000);
const LONG_PATH = longText(3_000).replace(/[+/]/g, 'x');
const cursorOf = (text: string) => Buffer.from(text).toString('base64url');

/** Wrong types and hostile strings, for any field. */
const BAD_VALUES: Array<[string, unknown]> = [
  ['array', ['x']],
  ['empty array', []],
  ['object', { a: 'b' }],
  ['number', 12],
  ['negative', -1],
  ['huge number', 1e308],
  ['true', true],
  ['false', false],
  ['null', null],
  ['empty string', ''],
  ['blank', '   '],
  ['100 KB', LONG],
  ['NUL', 'a\u0000b'],
  ['control', 'x\u0001\u001b[31my'],
  ['DEL', 'del\u007f'],
  ['bad duration', '9999999d'],
  ['huge duration', '999999w'],
  ['negative duration', '-1d'],
  ['far date', '+275760-09-13T00:00:00.000Z'],
  ['before time', '-271821-04-20T00:00:00.000Z'],
  ['not a date', '2024-13-45'],
  ['__proto__', JSON.parse('{"__proto__": {"polluted": true}}')],
];

const BAD_IDS = ['abc', '-1', '0', '1.5', '99999999999999999999', '2147483648', '0x10', '1e3', '%00', '%01', '%7F', '%E0%A4%A', '%', LONG_PATH];
const BAD_SEGMENTS = ['%00', 'x%01y', '%7F', '%E0%A4%A', '..', '%2e%2e', '@', '@scope', 'UPPER', ' ', '%20', LONG_PATH];
const BAD_CURSORS = [
  'abc',
  '-1',
  '!!!',
  cursorOf('id:-1'),
  cursorOf('id:NaN'),
  cursorOf('id:1.5'),
  cursorOf('id:99999999999'),
  cursorOf('id:2147483648'),
  cursorOf(`id:${'9'.repeat(19)}`),
  cursorOf(`id:${'9'.repeat(40)}`),
  cursorOf('id:1e9'),
  cursorOf('id:\u0000'),
  LONG_PATH,
];
const BAD_QUERIES = [
  ...BAD_CURSORS.map((c) => `cursor=${encodeURIComponent(c)}`),
  'limit=0',
  'limit=-1',
  'limit=abc',
  'limit=1e2',
  'limit=99999999999999999999',
  'cursor=a&cursor=b',
  'name[a]=b',
  'name[]=x',
  'name=%00',
  'name=x%01',
  'status=nope',
  'mine=%7F',
  `name=${LONG_PATH}`,
  'since=-271821-04-20',
  'since=%2B275760-09-13',
  'until=nope',
  'package=%00',
];

/** Bodies that pass validation, so each field's bad value is what gets tested. */
function validBody(route: RouteDef): Record<string, unknown> {
  switch (route.name) {
    case 'create_user':
      return { username: 'hostile-user', password: 'hostile-password', role: 'developer' };
    case 'update_user':
      return { disabled: false };
    case 'create_approval':
      return { name: 'hostile-ok', range: '*', reason: 'ok', expiresIn: '30d' };
    case 'create_ban':
      return { name: 'hostile-ok', range: '0.0.1', reason: 'bad', advisoryUrl: 'https://example.invalid/a' };
    case 'create_exemption':
      return { rule: 'release-age', name: 'hostile-ok', range: '*', reason: 'ok' };
    case 'update_policy':
      return { mode: 'allowlist' };
    case 'create_publish_rule':
      return { pattern: '@acme/*', role: 'publisher' };
    case 'update_license_policy':
      return { unknown: 'block' };
    case 'create_license_waiver':
      return { name: 'hostile-ok', range: '*', reason: 'ok', expiresIn: '90d' };
    case 'create_license_report':
    case 'check_lockfile':
      return { entries: [{ name: 'hostile-ok', version: '1.0.0' }] };
    case 'create_request':
      return { name: 'hostile-dep', range: '*', reason: 'needed' };
    case 'create_request_batch':
      return { entries: [{ name: 'hostile-ok', version: '1.1.0' }], reason: 'lockfile' };
    case 'approve_request':
    case 'reject_request':
    case 'cancel_request':
      return { comment: 'fine' };
    case 'create_approval_tree':
      return { name: 'hostile-dep', range: '*', reason: 'tree' };
    case 'create_project':
      return { name: 'hostile-project', version: '1.0.0', format: 'npm', entries: [{ name: 'hostile-ok', version: '1.0.0', integrity: 'sha512-x', dev: true }] };
    case 'import_advisories':
      return osvDocument();
    case 'create_webhook':
      // Nothing listens on port 9: deliveries fail and are retried, which is all they need to do here.
      return { url: 'http://127.0.0.1:9/hostile-hook', events: ['policy.changed'] };
    default:
      return {};
  }
}

function osvDocument(): Record<string, unknown> {
  return {
    id: 'GHSA-host-ile0-0001',
    summary: 'hostile',
    affected: [{ package: { ecosystem: 'npm', name: 'hostile-ok' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.1.0' }] }] }],
    references: [{ type: 'ADVISORY', url: 'https://example.invalid/GHSA' }],
  };
}

/** The fields to corrupt one by one: the documented ones, and for OSV the nested shapes. */
function fieldsOf(route: RouteDef): string[] {
  if (route.name === 'import_advisories') return ['id', 'summary', 'aliases', 'affected', 'references', 'database_specific'];
  const documented = (route.body ?? []).map((b) => b.name).filter((n) => /^[A-Za-z]+$/.test(n));
  return [...new Set([...documented, ...Object.keys(validBody(route))])];
}

/** Plausible path parameter values (ids that do not exist: nothing real gets deleted). */
function fill(path: string, override: Record<string, string> = {}): string {
  const plausible: Record<string, string> = { id: '999999', username: 'hostile-target', name: 'hostile-ok', version: '1.0.0', scope: '@acme', spec: 'hostile-ok@1.0.0' };
  return path.replace(/:([A-Za-z_]+)/g, (_m, p: string) => override[p] ?? plausible[p] ?? 'x');
}

describe('admin API under hostile input: client mistakes are 4xx with a stable code, never 5xx', () => {
  const s = gatekeeperSuite({ packages: FIXTURES, policyMode: 'none', npm: false });
  let readerToken: string;
  const sent: Sent[] = [];

  async function send(token: string | null, method: string, path: string, what: string, init: { body?: string; type?: string | null; query?: string } = {}): Promise<Sent> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    if (init.body !== undefined && init.type !== null) headers['content-type'] = init.type ?? 'application/json';
    const url = `${s.t.url}-/gatekeeper/v1${path}${init.query ? `?${init.query}` : ''}`;
    const res = await fetch(url, { method: method.toUpperCase(), headers, body: init.body });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = text === '' ? '' : JSON.parse(text);
    } catch {
      // kept as text: reported below
    }
    const result = { method: method.toUpperCase(), path, what, status: res.status, body, headers: res.headers, route: batteryRoute };
    sent.push(result);
    return result;
  }

  const json = (value: unknown) => JSON.stringify(value);

  beforeAll(async () => {
    await s.t.api('POST', '/users', { username: 'hostile-reader', password: 'reader-password', role: 'reader' });
    await s.t.api('POST', '/users', { username: 'hostile-target', password: 'target-password', role: 'developer' });
    readerToken = await loginToken(s.t.url, 'hostile-reader', 'reader-password');
  });

  let batteryRoute: RouteDef | undefined;

  /** Everything a route gets: path parameters, queries, bodies. */
  async function battery(route: RouteDef, token: string, full: boolean): Promise<void> {
    batteryRoute = route;
    const params = [...route.path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1]);
    for (const param of params) {
      for (const bad of param === 'id' ? BAD_IDS : BAD_SEGMENTS) {
        await send(token, route.method, fill(route.path, { [param]: bad }), `:${param}=${bad.slice(0, 20)}`, route.method === 'get' ? {} : { body: json(validBody(route)) });
      }
    }
    const path = fill(route.path);
    if (route.method === 'get') {
      for (const query of full ? BAD_QUERIES : BAD_QUERIES.slice(0, 6)) await send(token, 'get', path, `?${query.slice(0, 30)}`, { query });
      return;
    }
    const base = validBody(route);
    const fields = fieldsOf(route);
    for (const field of fields) {
      for (const [label, value] of full ? BAD_VALUES : BAD_VALUES.filter(([l]) => ['object', 'NUL', '100 KB'].includes(l))) {
        await send(token, route.method, path, `${field}=${label}`, { body: json({ ...base, [field]: value }) });
      }
      await send(token, route.method, path, `without ${field}`, { body: json(Object.fromEntries(Object.entries(base).filter(([k]) => k !== field))) });
    }
    const wholeBodies: Array<[string, string | undefined, string?]> = [
      ['no body', undefined],
      ['empty object', '{}'],
      ['array', '[]'],
      ['array of bodies', json([base, base])],
      ['number', '5'],
      ['string', '"x"'],
      ['null', 'null'],
      ['invalid JSON', '{"name": '],
      ['invalid JSON with NUL', '{"name": "\u0000'],
      ['unknown fields', json({ ...base, unknownField: 'x', ...JSON.parse('{"__proto__": "y", "constructor": {"prototype": 1}}') })],
      ['control character in a key', json({ ...base, 'bad\u0000key': 1 })],
      ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`],
      ['deep object', `${'{"a":'.repeat(200)}1${'}'.repeat(200)}`],
      ['text/plain', 'name=x', 'text/plain'],
      ['form', 'name=x', 'application/x-www-form-urlencoded'],
    ];
    for (const [what, body, type] of full ? wholeBodies : wholeBodies.slice(0, 8)) await send(token, route.method, path, what, { body, type });
    if (full && route.name === 'import_advisories') {
      const npm = (extra: Record<string, unknown>) => ({ package: { ecosystem: 'npm', name: 'hostile-ok' }, ...extra });
      const shapes: Array<[string, unknown]> = [
        ['affected: [null]', { affected: [null] }],
        ['affected: [5]', { affected: [5] }],
        ['package: null', { affected: [{ package: null }] }],
        ['package name: number', { affected: [{ package: { ecosystem: 'npm', name: 5 } }] }],
        ['package name: 100 KB', { affected: [{ package: { ecosystem: 'npm', name: LONG }, versions: ['1.0.0'] }] }],
        ['package name: invalid', { affected: [{ package: { ecosystem: 'npm', name: '../../etc' }, versions: ['1.0.0'] }] }],
        ['ranges: number', { affected: [npm({ ranges: 5 })] }],
        ['ranges: [null]', { affected: [npm({ ranges: [null] })] }],
        ['events: string', { affected: [npm({ ranges: [{ type: 'SEMVER', events: 'x' }] })] }],
        ['events: [null]', { affected: [npm({ ranges: [{ type: 'SEMVER', events: [null] }] })] }],
        ['event: objects', { affected: [npm({ ranges: [{ type: 'SEMVER', events: [{ introduced: {} }, { fixed: [] }] }] })] }],
        ['versions: string', { affected: [npm({ versions: 'x' })] }],
        ['versions: [5]', { affected: [npm({ versions: [5, null] })] }],
        ['references: string', { references: 'x' }],
        ['references: [null]', { references: [null] }],
        ['aliases: [5]', { aliases: [5, null] }],
        ['id: 100 KB', { id: LONG }],
        ['summary: 100 KB', { summary: LONG }],
        ['severity: odd', { database_specific: { severity: { x: 1 } } }],
        ['same package twice', { affected: [npm({ versions: ['1.0.0'] }), npm({ versions: ['1.1.0'] })] }],
      ];
      for (const [what, change] of shapes) await send(token, route.method, path, `OSV ${what}`, { body: json({ ...base, ...(change as object) }) });
      await send(token, route.method, path, 'OSV: the same document twice', { body: json([base, base]) });
      await send(token, route.method, path, 'OSV: too many documents', { body: json(Array.from({ length: MAX_BATCH_ENTRIES + 1 }, (_, i) => ({ ...base, id: `GHSA-many-${i}` }))) });
    }
    if (full && Array.isArray(base.entries)) {
      const entry = (i: number) => ({ name: `hostile-many-${i}`, version: '1.0.0' });
      await send(token, route.method, path, 'entries: wrong entry types', { body: json({ ...base, entries: [null, 5, 'x', [], { name: 5 }, { name: 'ok', version: {} }] }) });
      await send(token, route.method, path, 'entries: too many', { body: json({ ...base, entries: Array.from({ length: 20_000 }, (_, i) => entry(i)) }) });
      await send(token, route.method, path, 'entries: duplicated', { body: json({ ...base, entries: [...base.entries, ...base.entries] }) });
    }
  }

  it('answers every bad input to every route with a 4xx (or a success) and the error envelope, as admin and as reader', async () => {
    expect(ROUTES.length).toBeGreaterThan(30);
    for (const route of ROUTES) await battery(route, s.t.adminToken, true);
    for (const route of ROUTES) await battery(route, readerToken, false);
    batteryRoute = undefined;
    // Unknown paths and methods, anonymous callers.
    for (const route of ROUTES) await send(null, route.method, fill(route.path), 'anonymous', route.method === 'get' ? {} : { body: '{}' });
    for (const method of ['put', 'patch', 'delete', 'post']) await send(s.t.adminToken, method, '/approvals/tree/extra', 'unknown path', { body: '{}' });

    // ADMIN_INPUT_LOG=file writes one line per request sent: status, route, what was wrong, body.
    if (process.env.ADMIN_INPUT_LOG) {
      fs.writeFileSync(process.env.ADMIN_INPUT_LOG, sent.map((r) => `${r.status} ${r.method} ${r.path.slice(0, 60)} [${r.what}] ${JSON.stringify(r.body).slice(0, 200)}`).join('\n'));
    }
    const problems: string[] = [];
    for (const r of sent) {
      const where = `${r.method} ${r.path.slice(0, 60)} [${r.what}] -> ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`;
      if (r.status >= 500) {
        problems.push(`5xx: ${where}`);
        continue;
      }
      // A success is one the route documents (openapi.json lists them): 201 for what creates.
      if (r.status < 400) {
        if (r.route && !successStatuses(r.route).includes(r.status)) problems.push(`status not among the route's documented responses (${successStatuses(r.route).join(', ')}): ${where}`);
        continue;
      }
      const body = r.body as { code?: unknown; error?: unknown };
      if (!body || typeof body !== 'object' || !isErrorCode(body.code)) problems.push(`no error code: ${where}`);
      else if (typeof body.error !== 'string' || !body.error.startsWith(`[${body.code}] `)) problems.push(`error does not start with [CODE]: ${where}`);
      else if (ErrorCodes[body.code] !== r.status) problems.push(`status is not the code's: ${where}`);
    }
    expect(problems).toEqual([]);
    // Bounded: several hundred requests, not tens of thousands.
    expect(sent.length).toBeGreaterThan(500);
    expect(sent.length).toBeLessThan(6000);

    const health = await send(null, 'get', '/health', 'after the battery');
    expect(health.status).toBe(200);
    expect((health.body as { ok: boolean }).ok).toBe(true);
  });

  it('says which mistake it was: the codes of the reported cases', async () => {
    const admin = s.t.adminToken;
    // Not-found is never a database outage.
    for (const path of ['/approvals/999999', '/bans/999999', '/policy/exemptions/999999', '/licenses/waivers/999999', '/publish-rules/999999']) {
      const res = await send(admin, 'delete', path, 'missing row');
      expect([res.status, (res.body as { code: string }).code]).toEqual([404, 'ENOTFOUND']);
    }
    // Ids and cursors beyond the column's range.
    for (const id of ['99999999999999999999', '2147483648', '0x10', '1.5', '-1', 'abc', '%00']) {
      const res = await send(admin, 'delete', `/approvals/${id}`, 'bad id');
      expect([id, res.status, (res.body as { code: string }).code]).toEqual([id, 400, 'EVALIDATION']);
    }
    for (const cursor of [cursorOf('id:99999999999'), cursorOf('id:2147483648'), cursorOf(`id:${'9'.repeat(19)}`), 'abc', '-1']) {
      for (const path of ['/approvals', '/bans', '/licenses/waivers', '/requests']) {
        const res = await send(admin, 'get', path, 'bad cursor', { query: `cursor=${encodeURIComponent(cursor)}` });
        expect([path, cursor, res.status, (res.body as { code: string }).code]).toEqual([path, cursor, 400, 'EVALIDATION']);
      }
    }
    // The largest id still works as a cursor and as an id (an empty page, a 404).
    expect((await send(admin, 'get', '/approvals', 'max cursor', { query: `cursor=${cursorOf('id:2147483647')}` })).status).toBe(200);
    expect((await send(admin, 'get', '/audit', 'bigint cursor', { query: `cursor=${cursorOf('id:99999999999')}` })).status).toBe(200);
    expect((await send(admin, 'delete', '/approvals/2147483647', 'max id')).status).toBe(404);

    // Control characters: 400, naming the field.
    const nul = await send(admin, 'post', '/bans', 'NUL reason', { body: json({ name: 'hostile-ok', range: '*', reason: 'bad\u0000reason' }) });
    expect([nul.status, (nul.body as { code: string }).code, (nul.body as { details: { field: string } }).details.field]).toEqual([400, 'EVALIDATION', 'body.reason']);
    const deep = await send(admin, 'post', '/lockfile/check', 'nested control', { body: json({ entries: [{ name: 'hostile-ok', version: '1.0.0' }, { name: 'x\u001b', version: '1.0.0' }] }) });
    expect((deep.body as { details: { field: string } }).details.field).toBe('body.entries[1].name');
    const param = await send(admin, 'get', '/decisions/x%01y/1.0.0', 'control param');
    expect([param.status, (param.body as { details: { field: string } }).details.field]).toEqual([400, "path parameter 'name'"]);
    const nulParam = await send(admin, 'delete', '/bans/%00', 'NUL param');
    expect([nulParam.status, (nulParam.body as { code: string }).code]).toEqual([400, 'EVALIDATION']);
    const query = await send(admin, 'get', '/approvals', 'DEL query', { query: 'name=a%7F' });
    expect([query.status, (query.body as { code: string }).code]).toEqual([400, 'EVALIDATION']);

    // Batches: capped with a 413, chunked below the parameter limit up to the cap.
    const OWN_FIELDS: Record<string, Record<string, string>> = { '/requests/batch': { reason: 'r' }, '/lockfile/check': {}, '/licenses/report': {}, '/projects': { name: 'p', version: '1.0.0', format: 'npm' } };
    for (const path of ['/requests/batch', '/lockfile/check', '/licenses/report', '/projects']) {
      const res = await send(admin, 'post', path, 'over the cap', {
        // Each route's own fields: a field a route does not take is a 400 before the cap is looked at.
        body: json({ ...OWN_FIELDS[path], entries: Array.from({ length: MAX_BATCH_ENTRIES + 1 }, (_, i) => ({ name: `hostile-cap-${i}`, version: '1.0.0' })) }),
      });
      expect([path, res.status, (res.body as { code: string }).code]).toEqual([path, 413, 'EPAYLOADTOOLARGE']);
    }
    const full = Array.from({ length: MAX_BATCH_ENTRIES }, (_, i) => ({ name: 'hostile-full', version: `1.0.${i}`, integrity: `sha512-${'A'.repeat(86)}==` }));
    const batch = await send(admin, 'post', '/requests/batch', 'at the cap', { body: json({ entries: full, reason: 'a big lockfile' }) });
    expect([batch.status, (batch.body as { created: unknown[] }).created.length]).toEqual([201, MAX_BATCH_ENTRIES]);
    const again = await send(admin, 'post', '/requests/batch', 'at the cap, again', { body: json({ entries: full, reason: 'a big lockfile' }) });
    expect([again.status, (again.body as { alreadyOpen: unknown[] }).alreadyOpen.length]).toEqual([201, MAX_BATCH_ENTRIES]);
    const project = await send(admin, 'post', '/projects', 'project at the cap', { body: json({ name: 'hostile-big', version: '1.0.0', format: 'npm', entries: full }) });
    expect([project.status, (project.body as { packages: number }).packages]).toEqual([201, MAX_BATCH_ENTRIES]);

    // Bodies beyond the admin limit; one just within it is parsed.
    const big = await send(admin, 'post', '/requests/batch', 'too large', { body: json({ entries: [], reason: 'x'.repeat(ADMIN_BODY_LIMIT_BYTES) }) });
    expect([big.status, (big.body as { code: string }).code]).toEqual([413, 'EPAYLOADTOOLARGE']);

    // Routes: a known path with another method is a 405 with Allow; an unknown path a 404.
    const wrong = await send(admin, 'put', '/approvals', 'wrong method', { body: '{}' });
    expect([wrong.status, (wrong.body as { code: string }).code]).toEqual([405, 'EMETHODNOTALLOWED']);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD, POST');
    const byId = await send(admin, 'get', '/approvals/12', 'wrong method on :id');
    expect([byId.status, byId.headers.get('allow')]).toEqual([405, 'DELETE']);
    const missing = await send(admin, 'get', '/no-such-route', 'unknown');
    expect([missing.status, (missing.body as { code: string }).code]).toEqual([404, 'ENOTFOUND']);
    const media = await send(admin, 'post', '/bans', 'text/plain', { body: 'name=x', type: 'text/plain' });
    expect([media.status, (media.body as { code: string }).code]).toEqual([415, 'EUNSUPPORTEDMEDIATYPE']);
    // Expiries beyond what can be stored.
    const expiry = await send(admin, 'post', '/approvals', 'far expiry', { body: json({ name: 'hostile-dep', reason: 'x', expiresIn: '999999w' }) });
    expect([expiry.status, (expiry.body as { code: string }).code]).toEqual([400, 'EVALIDATION']);

    const health = await send(null, 'get', '/health', 'still up');
    expect(health.status).toBe(200);
  });

  it('refuses a field the route does not take, a flag that is not a boolean, two expiries and a body that is not an object', async () => {
    const admin = s.t.adminToken;
    const typo = await send(admin, 'post', '/approvals', 'misspelt expiry', { body: json({ name: 'hostile-typo', range: '*', reason: 'temp for 1 day', expires: '1d' }) });
    expect([typo.status, (typo.body as { code: string }).code]).toEqual([400, 'EVALIDATION']);
    expect((typo.body as { error: string }).error).toBe('[EVALIDATION] create_approval does not take the field expires. It takes name, range, reason, expiresIn, expiresAt, allowScripts (see openapi.json)');
    for (const [path, body, message] of [
      ['/approvals', { name: 'hostile-typo', range: '*', reason: 'r', allowScripts: 'yes' }, 'allowScripts must be true or false'],
      ['/approvals', { name: 'hostile-typo', range: '*', reason: 'r', expiresIn: '1d', expiresAt: new Date(Date.now() + 86_400_000).toISOString() }, 'give expiresIn or expiresAt, not both'],
      ['/requests', { name: 'hostile-ok', range: '*', reason: 'r', withDependencies: 'yes' }, 'withDependencies must be true or false'],
    ] as const) {
      const res = await send(admin, 'post', path, message, { body: json(body) });
      expect([path, res.status, (res.body as { error: string }).error]).toEqual([path, 400, `[EVALIDATION] ${message}`]);
    }
    for (const text of ['null', '"x"', '[1]', '5']) {
      const res = await send(admin, 'post', '/bans', `body ${text}`, { body: text });
      expect([text, res.status, (res.body as { error: string }).error]).toEqual([text, 400, expect.stringMatching(/^\[EVALIDATION\] the body of create_ban is a JSON object with the fields name, range, reason, advisoryUrl/)]);
    }
    const listed = (await send(admin, 'get', '/approvals', 'approvals', { query: 'limit=500' })).body as { items: Array<{ pattern: string }> };
    expect(listed.items.filter((a) => a.pattern === 'hostile-typo')).toEqual([]);
  });

  it('says which field of a batch entry is missing, and refuses a field an entry does not take as it does one of the body', async () => {
    const admin = s.t.adminToken;
    const OWN: Record<string, Record<string, string>> = { '/requests/batch': { reason: 'r' }, '/lockfile/check': {}, '/licenses/report': {}, '/projects': { name: 'p', version: '1.0.0', format: 'npm' } };
    for (const path of ['/requests/batch', '/lockfile/check', '/licenses/report', '/projects']) {
      const noVersion = await send(admin, 'post', path, 'entry without version', { body: json({ ...OWN[path], entries: [{ name: 'hostile-ok' }] }) });
      expect([path, noVersion.status, (noVersion.body as { error: string }).error]).toEqual([
        path,
        400,
        '[EVALIDATION] entries[0] has no version. Give each entry a name and an exact version, e.g. {"name": "lodash", "version": "4.17.21"}',
      ]);
      const noName = await send(admin, 'post', path, 'entry without name', { body: json({ ...OWN[path], entries: [{ name: 'hostile-ok', version: '1.0.0' }, { version: '1.0.0' }] }) });
      expect([path, noName.status, (noName.body as { error: string }).error]).toEqual([path, 400, expect.stringMatching(/^\[EVALIDATION\] entries\[1\] has no name\. /)]);
      const range = await send(admin, 'post', path, 'entry with a range', { body: json({ ...OWN[path], entries: [{ name: 'hostile-ok', version: '1.0.0', range: '^1.0.0' }] }) });
      expect([path, range.status, (range.body as { error: string }).error, (range.body as { details: { fields: string[] } }).details.fields]).toEqual([
        path,
        400,
        '[EVALIDATION] entries[0] does not take the field range. An entry takes name, version, integrity, resolved, dev, optional, with an exact version (not a range)',
        ['range'],
      ]);
      // A lockfile's fields of another type than a lockfile gives them.
      for (const [field, value] of [['integrity', 5], ['resolved', {}], ['dev', 'yes'], ['optional', 1], ['integrity', 'x'.repeat(1025)]] as const) {
        const typed = await send(admin, 'post', path, `entry ${field} of a wrong type`, { body: json({ ...OWN[path], entries: [{ name: 'hostile-ok', version: '1.0.0', [field]: value }] }) });
        expect([path, field, typed.status, (typed.body as { details?: { field?: string } }).details?.field]).toEqual([path, field, 400, `entries[0].${field}`]);
      }
    }
    // What `gatekeeper check` sends (the lockfile parser's entries) is accepted.
    const check = await send(admin, 'post', '/lockfile/check', 'lockfile entry', {
      body: json({ entries: [{ name: 'hostile-ok', version: '1.0.0', integrity: `sha512-${'A'.repeat(86)}==`, resolved: 'http://x/hostile-ok/-/hostile-ok-1.0.0.tgz', dev: true, optional: false }] }),
    });
    expect(check.status).toBe(200);
  });

  it('refuses a policy change that names nothing, and neither bumps the generation nor audits one that changes nothing', async () => {
    const admin = s.t.adminToken;
    const empty = await send(admin, 'patch', '/policy', 'empty change', { body: json({}) });
    expect([empty.status, (empty.body as { code: string }).code]).toEqual([400, 'EVALIDATION']);
    expect((empty.body as { error: string }).error).toMatch(/^\[EVALIDATION\] the change names no setting\. Give at least one of mode, /);
    const before = (await send(admin, 'get', '/policy', 'policy')).body as { mode: string; generation: number };
    const audited = async () => ((await send(admin, 'get', '/audit', 'audit', { query: 'limit=500' })).body as { items: Array<{ action: string }> }).items.filter((i) => i.action.startsWith('policy.')).length;
    const rows = await audited();
    const same = await send(admin, 'patch', '/policy', 'same mode', { body: json({ mode: before.mode }) });
    expect(same.status).toBe(200);
    expect((same.body as { generation: number }).generation).toBe(before.generation);
    expect(await audited()).toBe(rows);
    // A lone surrogate is no text: refused, naming the field, not stored as U+FFFD.
    const surrogate = await send(admin, 'post', '/bans', 'lone surrogate', { body: '{"name":"hostile-ok","range":"*","reason":"bad \\ud800 reason"}' });
    expect([surrogate.status, (surrogate.body as { code: string }).code, (surrogate.body as { details: { field: string } }).details.field]).toEqual([400, 'EVALIDATION', 'body.reason']);
    const name = await send(admin, 'post', '/approvals', 'lone surrogate name', { body: '{"name":"x\\ud800y","range":"*","reason":"r"}' });
    expect([name.status, (name.body as { code: string }).code]).toEqual([400, 'EVALIDATION']);
  });

  it('refuses a request without a field the table marks required (400 naming it), and openapi.json lists exactly those as required', async () => {
    const admin = s.t.adminToken;
    // Where validBody() leaves out a required field (its battery sends those routes {}), the rest of a valid request.
    const PROBE_BODY: Record<string, Record<string, unknown>> = {
      flag_malware: { name: 'hostile-ok', reason: 'probe' },
      create_advisory_override: { name: 'hostile-ok', id: 'GHSA-none-none-none', reason: 'probe' },
      sync_advisories: { root: '/hostile-sync', files: [] },
      create_session: { username: 'hostile-reader', password: 'reader-password' },
      create_service_account_token: { scope: 'read', expires: '1d' },
      create_tag: { name: 'hostile-probe-tag' },
      create_package_tag: { tag: 'hostile-probe-tag' },
    };
    const PROBE_QUERY: Record<string, Record<string, string>> = {
      delete_advisory_override: { name: 'hostile-ok', id: 'GHSA-none-none-none' },
      get_advisory_sync: { root: '/hostile-sync' },
      list_versions_by_tag: { tag: 'hostile-probe-tag' },
    };
    const unscoped = (route: RouteDef) => route.name.replace('_scoped_package', '_package');
    const without = (record: Record<string, unknown>, field: string) => Object.fromEntries(Object.entries(record).filter(([k]) => k !== field));
    const queryOf = (record: Record<string, unknown>) => new URLSearchParams(record as Record<string, string>).toString() || undefined;
    const marked = (docs: RouteDef['body']) => (docs ?? []).filter((d) => d.required === true).map((d) => d.name);

    const problems: string[] = [];
    let probes = 0;
    for (const route of ROUTES) {
      const body = { ...validBody(route), ...PROBE_BODY[unscoped(route)] };
      const query = PROBE_QUERY[unscoped(route)] ?? {};
      const path = fill(route.path);
      const missing: Array<['query' | 'body', string]> = [...marked(route.query).map((f): ['query', string] => ['query', f]), ...marked(route.body).map((f): ['body', string] => ['body', f])];
      for (const [where, field] of missing) {
        probes++;
        const init =
          where === 'query'
            ? { query: queryOf(without(query, field)), ...(route.method === 'get' || !route.body ? {} : { body: json(body) }) }
            : { query: queryOf(query), body: json(without(body, field)) };
        const res = await send(admin, route.method, path, `without required ${where} ${field}`, init);
        const answer = res.body as { code?: string; error?: string; details?: { field?: unknown } };
        const word = new RegExp(`\\b${field}\\b`, 'i');
        const named =
          (typeof answer?.details?.field === 'string' && word.test(answer.details.field)) ||
          (typeof answer?.error === 'string' && word.test(answer.error));
        if (res.status !== 400 || !named) problems.push(`${route.name} (${route.method.toUpperCase()} ${path}) without ${where} ${field}: ${res.status} ${JSON.stringify(answer).slice(0, 300)}`);
      }
    }
    expect(problems).toEqual([]);
    expect(probes).toBeGreaterThan(30);

    // The served document says the same as the table, route by route.
    const doc = (await send(admin, 'get', '/openapi.json', 'openapi')).body as {
      paths: Record<string, Record<string, { parameters: Array<{ name: string; in: string; required: boolean }>; requestBody?: { content: Record<string, { schema: { required?: string[] } }> } }>>;
    };
    const served: Record<string, { body: string[] | undefined; query: string[] }> = {};
    const table: Record<string, { body: string[] | undefined; query: string[] }> = {};
    for (const route of ROUTES) {
      const operation = (doc.paths[`/-/gatekeeper/v1${route.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`] ?? {})[route.method];
      expect([route.name, operation !== undefined]).toEqual([route.name, true]);
      const queryParams = operation.parameters.filter((p) => p.in === 'query');
      expect([route.name, queryParams.every((p) => typeof p.required === 'boolean')]).toEqual([route.name, true]);
      served[route.name] = { body: operation.requestBody?.content['application/json'].schema.required, query: queryParams.filter((p) => p.required).map((p) => p.name) };
      table[route.name] = { body: marked(route.body).length > 0 ? marked(route.body) : undefined, query: marked(route.query) };
    }
    expect(served).toEqual(table);
    expect(served.create_ban.body).toEqual(['name', 'reason']);
    expect(served.list_versions_by_tag.query).toEqual(['tag']);
    expect(served.update_tag.body).toBeUndefined();
  });
});
