/**
 * The gate's Host check accepts only what Verdaccio's own check accepts (`isHost` in
 * @verdaccio/url, which throws while Verdaccio builds tarball URLs): a Host passed by the gate
 * and refused there failed every packument read with 503 and an error in the log.
 */
import { isHost } from '@verdaccio/url';
import { isHostHeader } from '../../../src/server/registry/routes';

const ACCEPTED = [
  'registry.example', 'registry.example:4873', 'registry-1', 'localhost', 'localhost:1', 'a.b.c.example:65535', '127.0.0.1', '127.0.0.1:9',
  '10.0.0.255:443', '[::1]', '[::1]:4873', '[2001:db8::1]:80', '[::ffff:127.0.0.1]:8080', 'Registry.Example', 'xn--bcher-kva.example', 'a1.b2',
];
// Refused by Verdaccio too, but for the last ones (a path, credentials: URL parts, not a host).
const REFUSED = [
  '0', '12', 'registry.example:0', 'registry.example:65536', 'registry.example:99999', 'registry.example:', '256.0.0.1', '1.2.3', 'a.1', '[:::]',
  '[1:2]', '[::1', '[::1]x', '[::1]:0', 'x y', 'a"b', 'registry_1', 'registry.example.', '-a.example', 'a-.example', 'a..b', '.a', 'a:b:c', '::1',
  'host:99999999', `${'a'.repeat(64)}.example`, '', 'a/b?c#d', 'a@evil.example',
];

describe('isHostHeader', () => {
  it.each(ACCEPTED)('takes %j, as Verdaccio does', (host) => {
    expect({ host, gate: isHostHeader(host), verdaccio: isHost(host) }).toEqual({ host, gate: true, verdaccio: true });
  });

  it.each(REFUSED)('refuses %j', (host) => {
    expect({ host, gate: isHostHeader(host) }).toEqual({ host, gate: false });
  });

  it('takes no Host at all (HTTP/1.0): the public URL comes from the listening address', () => {
    expect(isHostHeader(undefined)).toBe(true);
  });
});
