/**
 * The upstream client's own connection pools (src/upstream/agents.ts): used only when no proxy
 * and no agent of npm's is in play, and made with npm's TLS and socket options.
 */
import http from 'http';
import https from 'https';
import { directAgents, proxyInEnvironment } from '../../../src/upstream/agents';

describe('directAgents', () => {
  it('makes one keep-alive agent per protocol and client certificate, with npm’s socket options', () => {
    const agents = directAgents({ maxSockets: 7, localAddress: '127.0.0.1' }, {});
    expect(agents).toBeDefined();
    const plain = agents!.for('http:', null, null);
    expect(plain).toBeInstanceOf(http.Agent);
    expect(plain).not.toBeInstanceOf(https.Agent);
    expect((plain as unknown as { keepAlive: boolean }).keepAlive).toBe(true);
    expect(plain.maxSockets).toBe(7);
    expect((plain as unknown as { options: { localAddress?: string } }).options.localAddress).toBe('127.0.0.1');
    expect(agents!.for('http:', 'ignored', 'ignored')).toBe(plain);

    const secure = agents!.for('https:', null, null);
    expect(secure).toBeInstanceOf(https.Agent);
    expect(agents!.for('https:', undefined, undefined)).toBe(secure);
    const withCert = agents!.for('https:', 'CERT', 'KEY');
    expect(withCert).not.toBe(secure);
    expect((withCert as unknown as { options: { cert?: string; key?: string } }).options).toMatchObject({ cert: 'CERT', key: 'KEY' });
  });

  it('keeps certificates verified unless strict-ssl is false, and passes npm’s ca on', () => {
    const strict = directAgents({ ca: 'CA' }, {})!.for('https:', null, null) as unknown as { options: { rejectUnauthorized?: boolean; ca?: string } };
    expect(strict.options).toMatchObject({ rejectUnauthorized: true, ca: 'CA' });
    const loose = directAgents({ strictSSL: false }, {})!.for('https:', null, null) as unknown as { options: { rejectUnauthorized?: boolean } };
    expect(loose.options.rejectUnauthorized).toBe(false);
  });

  it('defaults to 15 sockets per origin, as npm does', () => {
    expect(directAgents({}, {})!.for('http:', null, null).maxSockets).toBe(15);
  });

  it('stands aside for a proxy of npm’s options, of the environment, or an agent given', () => {
    expect(directAgents({ proxy: 'http://proxy.invalid:3128' }, {})).toBeUndefined();
    expect(directAgents({ httpsProxy: 'http://proxy.invalid:3128' }, {})).toBeUndefined();
    expect(directAgents({ agent: new http.Agent() }, {})).toBeUndefined();
    for (const name of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'PROXY', 'Proxy']) {
      expect(proxyInEnvironment({ [name]: 'http://proxy.invalid:3128' })).toBe(true);
      expect(directAgents({}, { [name]: 'http://proxy.invalid:3128' })).toBeUndefined();
    }
    // Set but empty is no proxy; NO_PROXY alone is none either.
    expect(proxyInEnvironment({ HTTPS_PROXY: '', NO_PROXY: 'example.invalid' })).toBe(false);
    expect(directAgents({}, { HTTPS_PROXY: ' ' })).toBeDefined();
  });
});
