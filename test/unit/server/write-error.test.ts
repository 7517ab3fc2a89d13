/**
 * The one error writer: every code in the table goes through it over real HTTP, and its
 * status, status text (what pnpm, yarn 4 and bun print), headers and body come from the code.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ErrorCode, ErrorCodes, GatekeeperError, MAX_STATUS_TEXT, statusText } from '../../../src/core/errors';
import { writeError } from '../../../src/server/http/write-error';

describe('writeError', () => {
  let server: http.Server;
  let base: string;
  let next: () => GatekeeperError;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      // Headers a success path set before failing must not survive into the error.
      res.setHeader('etag', '"stale"');
      res.setHeader('content-encoding', 'gzip');
      writeError(res, next());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it.each(Object.keys(ErrorCodes) as ErrorCode[])('writes %s with its status, status text, headers and body', async (code) => {
    next = () => new GatekeeperError(code, `something about ${code} happened. Do the next thing`, { package: 'x' });
    const res = await fetch(base);
    expect(res.status).toBe(ErrorCodes[code]);
    expect(res.statusText).toBe(`[${code}] something about ${code} happened. Do the next thing`);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('etag')).toBeNull();
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.json()).toEqual({ error: `[${code}] something about ${code} happened. Do the next thing`, code, details: { package: 'x' } });
  });

  it('sends Retry-After when the error carries one', async () => {
    next = () => new GatekeeperError('ETOOMANYATTEMPTS', 'too many failed logins for alice. Wait', undefined, { retryAfter: 12.2 });
    const res = await fetch(base);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('13');
  });

  it('makes hostile package text a valid, bounded status text', async () => {
    next = () => new GatekeeperError('EBANNED', `evil\r\nSet-Cookie: a=b\u0000 “quoted” ünïcödé ${'x'.repeat(2000)}`);
    const res = await fetch(base);
    expect(res.status).toBe(403);
    expect(res.headers.get('set-cookie')).toBeNull();
    expect(res.statusText.length).toBeLessThanOrEqual(MAX_STATUS_TEXT);
    expect(res.statusText).toMatch(/^\[EBANNED\] evil Set-Cookie: a=b "quoted" unicode x+\.\.\.x+$/);
    expect(res.statusText).toMatch(/^[\x20-\x7e]+$/);
    const body = (await res.json()) as { error: string };
    expect(body.error).toMatch(/^\[EBANNED\] evil {2}Set-Cookie: a=b “quoted” ünïcödé x+\.\.\.x+$/);
  });

  it('keeps the next step at the end of a long message in both the status text and the body', async () => {
    next = () => new GatekeeperError('EADVISORY', `p@1.0.0: GHSA-1 (critical) ${'Z'.repeat(3000)}, no fixed version yet. Use a fixed version; run 'gatekeeper explain p@1.0.0' for the advisories`);
    const res = await fetch(base);
    expect(res.statusText).toMatch(/^\[EADVISORY\] p@1\.0\.0: GHSA-1 \(critical\) Z+\.\.\.Z+, no fixed version yet\. Use a fixed version; run 'gatekeeper explain p@1\.0\.0' for the advisories$/);
    expect(((await res.json()) as { error: string }).error).toMatch(/Z+\.\.\.Z+, no fixed version yet\. Use a fixed version; run 'gatekeeper explain p@1\.0\.0' for the advisories$/);
  });

  it("writes a refusal too long for the status text from its short form: the code, what happened in brief, the whole next step", async () => {
    const step = "Use an older version, wait, or ask for an exemption: gatekeeper request p@1.0.0 --reason '<why you need it>'; run 'gatekeeper explain p@1.0.0'";
    const reason = `p@1.0.0 was published 2026-12-01T07:00:00Z ${'x'.repeat(400)}`;
    const brief = 'p@1.0.0 is installable after 2026-12-04T07:00:00Z';
    next = () => new GatekeeperError('EQUARANTINED', `${reason}. ${step}`, undefined, { short: { what: [reason, brief], next: step, more: ['; or open https://registry.example/-/gatekeeper/ui/packages/p?version=1.0.0'] } });
    const res = await fetch(base);
    expect(res.statusText).toBe(`[EQUARANTINED] ${brief}. ${step}; or open https://registry.example/-/gatekeeper/ui/packages/p?version=1.0.0`);
    expect(((await res.json()) as { error: string }).error).toBe(`[EQUARANTINED] ${reason}. ${step}`);
  });

  it('statusText keeps printable ASCII only and cuts long text', () => {
    expect(statusText('a\tb\nc')).toBe('a b c');
    expect(statusText('x'.repeat(MAX_STATUS_TEXT + 10))).toHaveLength(MAX_STATUS_TEXT);
  });
});
