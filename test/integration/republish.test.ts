/**
 * A republish is refused in words every npm prints. npm 9 answers a 409 by reading
 * `?write=true` with `npm-command: publish` and republishing with the versions merged unless
 * the version is already listed there; the gatekeeper lists every version ever published
 * (unpublished ones too) in that document's `time`, so npm 9 prints "Cannot publish over
 * existing version" (checked by hand with npm 9.9.4: docs/clients.md) rather than a merged
 * publish or "not in this registry". npm 11 prints EVERSIONEXISTS.
 */
import fs from 'node:fs';
import path from 'node:path';
import { gatekeeperSuite } from '../support/suite';

describe('republishing a version', () => {
  const s = gatekeeperSuite({ settings: { publishRules: [{ pattern: '@acme/*', roles: ['publisher'] }] } });
  const dir = (name: string, version: string) => {
    const d = fs.mkdtempSync(path.join(s.npm.dir, 'pkg-'));
    fs.writeFileSync(path.join(d, 'package.json'), JSON.stringify({ name, version, license: 'MIT' }));
    return d;
  };
  const writeRead = (name: string, headers: Record<string, string>) =>
    fetch(new URL(`${name.replace('/', '%2f')}?write=true`, s.t.url), { headers: { authorization: `Bearer ${s.t.adminToken}`, accept: 'application/json', ...headers } });

  beforeAll(async () => {
    await s.npm.setToken(s.t.adminToken);
  });

  it("lists every version ever published in the publish command's write read, also after unpublishing everything", async () => {
    expect((await s.npm.run(['publish'], { cwd: dir('@acme/again', '1.0.0') })).code).toBe(0);
    expect((await s.npm.run(['publish'], { cwd: dir('@acme/again', '1.1.0') })).code).toBe(0);
    expect((await s.npm.run(['unpublish', '@acme/again@1.1.0'])).code).toBe(0);

    const retry = await writeRead('@acme/again', { 'npm-command': 'publish' });
    expect(retry.status).toBe(200);
    const doc = (await retry.json()) as { name: string; versions: object; time: Record<string, string> };
    expect(doc.name).toBe('@acme/again');
    expect(Object.keys(doc.time).sort()).toEqual(['1.0.0', '1.1.0']);
    expect(doc.versions).toEqual({});
    // Other write reads (deprecate, dist-tag, unpublish) still get the stored document.
    const plain = (await (await writeRead('@acme/again', {})).json()) as { versions: object };
    expect(Object.keys(plain.versions)).toEqual(['1.0.0']);

    const again = await s.npm.run(['publish'], { cwd: dir('@acme/again', '1.1.0') });
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/EVERSIONEXISTS|cannot publish over the previously published versions/i);
    expect(again.output).not.toContain('is not in this registry');

    expect((await s.npm.run(['unpublish', '@acme/again', '--force'])).code).toBe(0);
    const gone = await writeRead('@acme/again', { 'npm-command': 'publish' });
    expect(gone.status).toBe(200);
    expect(Object.keys(((await gone.json()) as { time: object }).time).sort()).toEqual(['1.0.0', '1.1.0']);
    const afterAll = await s.npm.run(['publish'], { cwd: dir('@acme/again', '1.0.0') });
    expect(afterAll.code).not.toBe(0);
    expect(afterAll.output).toContain('EVERSIONEXISTS');
    expect(afterAll.output).not.toContain('is not in this registry');
  });

  it('answers as before for a name nothing was ever published under', async () => {
    const res = await writeRead('@acme/never', { 'npm-command': 'publish' });
    expect(res.status).toBe(404);
  });
});
