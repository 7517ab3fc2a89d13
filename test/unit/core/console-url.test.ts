import { blockMessage, consolePackageUrl, Decision } from '../../../src/core/policy';

const decision = (name: string, version: string): Decision => ({
  name,
  version,
  allowed: false,
  code: 'ENOTAPPROVED',
  ruleId: 'mode:allowlist',
  reason: `${name}@${version} is not approved`,
  matches: [],
  warnings: [],
  validUntil: null,
});

describe('the console link in block messages', () => {
  it('names the package page of name@version under the public URL', () => {
    expect(consolePackageUrl('http://127.0.0.1:4873/', 'left-pad', '1.3.0')).toBe('http://127.0.0.1:4873/-/gatekeeper/ui/packages/left-pad?version=1.3.0');
    expect(consolePackageUrl('https://npm.example.test/base', '@acme/util', '2.0.0-rc.1+build')).toBe(
      'https://npm.example.test/base/-/gatekeeper/ui/packages/@acme%2Futil?version=2.0.0-rc.1%2Bbuild',
    );
  });

  it('is added to the next step only when the public URL is known', () => {
    const d = decision('left-pad', '1.3.0');
    expect(blockMessage(d)).not.toContain('/-/gatekeeper/ui/');
    const linked = blockMessage(d, 'http://127.0.0.1:4873/');
    expect(linked.startsWith(blockMessage(d))).toBe(true);
    expect(linked).toMatch(/; or open http:\/\/127\.0\.0\.1:4873\/-\/gatekeeper\/ui\/packages\/left-pad\?version=1\.3\.0 to see why and request it$/);
  });
});
