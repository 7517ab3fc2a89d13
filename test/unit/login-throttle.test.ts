/**
 * The pure parts of login throttling: counter keys for usernames and client addresses, and
 * the settings (defaults, environment, the example file).
 */
import path from 'node:path';
import { ConfigError, loadSettings } from '../../src/server/config';
import { addressKey, DEFAULT_LOGIN_THROTTLE, usernameKey } from '../../src/services/login-throttle';

describe('login throttle keys', () => {
  it('keys a username lower-cased, and anything that cannot be one as a single key', () => {
    expect(usernameKey('Alice')).toBe('alice');
    expect(usernameKey('dev-1.x_y')).toBe('dev-1.x_y');
    expect(usernameKey('')).toBe('$invalid');
    expect(usernameKey('a\u0000b')).toBe('$invalid');
    expect(usernameKey('x'.repeat(5000))).toBe('$invalid');
    expect(usernameKey("robert'); drop table users;--")).toBe('$invalid');
  });

  it('keys IPv4 addresses as they are, also when mapped into IPv6', () => {
    expect(addressKey('127.0.0.1')).toBe('127.0.0.1');
    expect(addressKey('::ffff:10.1.2.3')).toBe('10.1.2.3');
    expect(addressKey('::FFFF:10.1.2.3')).toBe('10.1.2.3');
  });

  it('keys IPv6 addresses by their /64, however they are written', () => {
    expect(addressKey('2001:db8:1:2:3:4:5:6')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b::192.0.2.33')).toBe('64:ff9b:0:0::/64');
  });

  it('has no key for a missing or malformed address', () => {
    expect(addressKey(undefined)).toBeUndefined();
    expect(addressKey(null)).toBeUndefined();
    expect(addressKey('')).toBeUndefined();
    expect(addressKey('not-an-address')).toBeUndefined();
    expect(addressKey('1.2.3.4.5')).toBeUndefined();
  });
});

describe('login throttle settings', () => {
  it('defaults to 10 per username, 30 per address, in 15 minutes, as the service does', () => {
    const settings = loadSettings({}, '/tmp');
    expect([settings.loginMaxFailuresPerUser, settings.loginMaxFailuresPerAddress, settings.loginThrottleWindow]).toEqual([10, 30, '15m']);
    expect(DEFAULT_LOGIN_THROTTLE).toEqual({ maxFailuresPerUser: 10, maxFailuresPerAddress: 30, windowMs: 15 * 60_000 });
  });

  it('reads them from the environment', () => {
    const settings = loadSettings(
      { GATEKEEPER_LOGIN_MAX_FAILURES_PER_USER: '5', GATEKEEPER_LOGIN_MAX_FAILURES_PER_ADDRESS: '100', GATEKEEPER_LOGIN_THROTTLE_WINDOW: '1h' },
      '/tmp',
    );
    expect([settings.loginMaxFailuresPerUser, settings.loginMaxFailuresPerAddress, settings.loginThrottleWindow]).toEqual([5, 100, '1h']);
  });

  it('the example file sets the defaults', () => {
    const settings = loadSettings({ GATEKEEPER_CONFIG: path.resolve(__dirname, '../../config/gatekeeper.example.yaml') }, '/tmp');
    expect([settings.loginMaxFailuresPerUser, settings.loginMaxFailuresPerAddress, settings.loginThrottleWindow]).toEqual([10, 30, '15m']);
  });

  it.each([
    ['GATEKEEPER_LOGIN_MAX_FAILURES_PER_USER', '0'],
    ['GATEKEEPER_LOGIN_MAX_FAILURES_PER_USER', 'ten'],
    ['GATEKEEPER_LOGIN_MAX_FAILURES_PER_ADDRESS', '-3'],
    ['GATEKEEPER_LOGIN_MAX_FAILURES_PER_ADDRESS', '2.5'],
    ['GATEKEEPER_LOGIN_THROTTLE_WINDOW', '0'],
    ['GATEKEEPER_LOGIN_THROTTLE_WINDOW', 'forever'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadSettings({ [name]: value }, '/tmp')).toThrow(ConfigError);
    try {
      loadSettings({ [name]: value }, '/tmp');
    } catch (err) {
      expect((err as Error).message).toContain(name);
    }
  });
});
