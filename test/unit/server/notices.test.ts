import type { IncomingMessage } from 'node:http';
import { installKey, OncePerInstall } from '../../../src/server/registry/notices';

describe('OncePerInstall', () => {
  it('says yes once per key within the window, again after it', () => {
    const once = new OncePerInstall(1000, 100);
    expect(once.take('a', 0)).toBe(true);
    expect(once.take('a', 500)).toBe(false);
    expect(once.take('b', 500)).toBe(true);
    expect(once.take('a', 1000)).toBe(true);
    expect(once.take('a', 1500)).toBe(false);
  });

  it('keeps at most maxKeys keys, forgetting the oldest', () => {
    const once = new OncePerInstall(1000, 2);
    expect(once.take('a', 0)).toBe(true);
    expect(once.take('b', 0)).toBe(true);
    expect(once.take('c', 0)).toBe(true);
    expect(once.take('c', 1)).toBe(false);
    expect(once.take('a', 1)).toBe(true);
  });
});

describe('installKey', () => {
  const req = (headers: Record<string, string>, ip = '10.0.0.1') => ({ headers, socket: { remoteAddress: ip } }) as unknown as IncomingMessage;
  it("is npm's session when it sends one, else the address and user agent", () => {
    expect(installKey(req({ 'npm-session': 'abc', 'user-agent': 'npm/10' }))).toBe('session:abc');
    expect(installKey(req({ 'user-agent': 'pnpm/9' }))).toBe('client:10.0.0.1 pnpm/9');
    expect(installKey(req({ 'user-agent': 'pnpm/9' }, '10.0.0.2'))).not.toBe(installKey(req({ 'user-agent': 'pnpm/9' })));
  });
});
