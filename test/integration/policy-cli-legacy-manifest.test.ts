/**
 * The CLI and the admin API for two things the core learnt: legacy version keys (express has
 * `1.0.0beta`) can be approved, banned and explained exactly, and the manifest rule's mode can
 * be shown and changed like every other rule.
 */
import { main } from '../../src/cli/main';
import { captureIo } from '../support/cli';
import { gatekeeperSuite } from '../support/suite';

describe('policy commands: legacy versions and the manifest rule', () => {
  const s = gatekeeperSuite({ packages: [{ name: 'legacy-fixture', versions: [{ version: '1.0.0', license: 'MIT' }] }], policyMode: 'none', npm: false });
  let env: NodeJS.ProcessEnv;

  const gatekeeper = async (argv: string[]) => {
    const io = captureIo();
    const code = await main(argv, io, env, async () => '');
    return { code, out: io.outText(), err: io.errText() };
  };

  beforeAll(() => {
    env = { GATEKEEPER_URL: s.t.url, GATEKEEPER_TOKEN: s.t.adminToken, HOME: s.t.dataDir, PATH: process.env.PATH };
  });

  it('approves, lists, explains and removes an exact legacy version', async () => {
    const approved = await gatekeeper(['approve', 'legacy-fixture@1.0.0beta', '--reason', 'old but reviewed']);
    expect(approved.code).toBe(0);
    expect(approved.out).toMatch(/^approved legacy-fixture@1\.0\.0beta \(approval \d+\)$/);
    const listed = JSON.parse((await gatekeeper(['approvals', '--name', 'legacy-fixture', '--json'])).out) as Array<{ pattern: string; range: string }>;
    expect(listed).toEqual([expect.objectContaining({ pattern: 'legacy-fixture', range: '1.0.0beta' })]);

    // The policy holding it still compiles (nothing answers 503), and the key is decided exactly.
    expect((await fetch(new URL('legacy-fixture', s.t.url))).status).toBe(403);
    const explained = await gatekeeper(['explain', 'legacy-fixture@1.0.0beta', '--json']);
    expect(explained.code).toBe(0);
    const result = JSON.parse(explained.out) as { decision: { allowed: boolean; ruleId: string; version: string } };
    expect(result.decision).toMatchObject({ allowed: true, version: '1.0.0beta' });
    expect(result.decision.ruleId).toMatch(/^approval:\d+$/);
    const other = JSON.parse((await gatekeeper(['explain', 'legacy-fixture@1.0.0beta2', '--json'])).out) as { decision: { code: string } };
    expect(other.decision.code).toBe('ENOTAPPROVED');

    const removed = await gatekeeper(['unapprove', 'legacy-fixture@1.0.0beta']);
    expect(removed.out).toMatch(/^removed approval \d+ \(legacy-fixture@1\.0\.0beta\)$/);
  });

  it('bans an exact legacy version and still refuses a legacy-looking range', async () => {
    const banned = await gatekeeper(['ban', 'legacy-fixture@2.0.0rc', '--reason', 'broken']);
    expect(banned.code).toBe(0);
    const explained = JSON.parse((await gatekeeper(['explain', 'legacy-fixture@2.0.0rc', '--json'])).out) as { decision: { code: string } };
    expect(explained.decision.code).toBe('EBANNED');
    expect((await gatekeeper(['unban', 'legacy-fixture@2.0.0rc'])).code).toBe(0);

    const bad = await gatekeeper(['approve', 'legacy-fixture@^1.0.0beta']);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('[EINVALIDRANGE]');
  });

  it('shows the manifest rule (enforce by default) and changes it with policy set', async () => {
    const shown = await gatekeeper(['policy', 'show']);
    expect(shown.out).toContain("manifest: enforce (the tarball's package.json against the registry's manifest)");
    const json = JSON.parse((await gatekeeper(['policy', 'show', '--json'])).out) as { rules: { manifest: { mode: string } } };
    expect(json.rules.manifest).toEqual({ mode: 'enforce' });

    const set = await gatekeeper(['policy', 'set', 'manifest', 'warn']);
    expect(set.code).toBe(0);
    expect(set.out).toContain('manifest: warn');
    expect((await gatekeeper(['policy', 'set', 'manifest.mode', 'off'])).out).toContain('manifest: off');

    const wrong = await gatekeeper(['policy', 'set', 'manifest', 'sometimes']);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('manifest.mode must be one of enforce, warn, off');

    // The admin API takes it too, and the audit log records the change.
    const patched = await s.t.api('PATCH', '/policy', { manifest: { mode: 'enforce' } });
    expect(patched.status).toBe(200);
    expect(patched.body.rules.manifest).toEqual({ mode: 'enforce' });
    const audit = JSON.parse((await gatekeeper(['audit', '--action', 'policy.rules', '--json'])).out) as Array<{ details: { to: { manifest?: unknown } } }>;
    expect(audit.map((e) => e.details.to.manifest)).toEqual([{ mode: 'enforce' }, { mode: 'off' }, { mode: 'warn' }]);
  });
});
