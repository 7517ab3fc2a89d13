/**
 * The fast path's client address equals express's req.ip under the same 'trust proxy' setting
 * (GATEKEEPER_TRUST_PROXY), so audit rows name the same client whichever path answered.
 */
import type { IncomingMessage } from 'node:http';
import express from 'express';
import { clientAddress, requestProtocol, TrustProxyFn } from '../../src/server/http/client-address';

function trustOf(setting: string): TrustProxyFn {
  const app = express();
  app.set('trust proxy', setting);
  return app.get('trust proxy fn') as TrustProxyFn;
}

/** express's own request object for a request from `peer` with these headers, under the 'trust proxy' setting. */
function expressRequest(setting: string | undefined, peer: string, headers: Record<string, string>, encrypted = false): { ip?: string; protocol: string } {
  const app = express();
  if (setting) app.set('trust proxy', setting);
  const socket = { remoteAddress: peer, encrypted };
  return Object.create(app.request, { app: { value: app }, headers: { value: headers }, socket: { value: socket }, connection: { value: socket } });
}

/** express's own req.ip for the same request. */
function expressIp(setting: string | undefined, peer: string, xff?: string): string | undefined {
  return expressRequest(setting, peer, xff === undefined ? {} : { 'x-forwarded-for': xff }).ip;
}

const request = (peer: string, xff?: string) => ({ socket: { remoteAddress: peer }, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  const cases: Array<[string | undefined, string, string | undefined, string]> = [
    [undefined, '10.0.0.5', '198.51.100.1', '10.0.0.5'],
    ['10.0.0.5', '10.0.0.5', '198.51.100.1', '198.51.100.1'],
    ['10.0.0.5', '10.0.0.5', '203.0.113.9, 198.51.100.1', '198.51.100.1'],
    ['10.0.0.0/8', '10.0.0.5', '203.0.113.9, 10.1.1.1, 198.51.100.1', '198.51.100.1'],
    ['10.0.0.0/8', '10.0.0.5', '203.0.113.9,10.1.1.1', '203.0.113.9'],
    ['10.0.0.5', '192.0.2.1', '198.51.100.1', '192.0.2.1'],
    ['loopback', '127.0.0.1', '198.51.100.1', '198.51.100.1'],
    ['10.0.0.5', '10.0.0.5', undefined, '10.0.0.5'],
    // Spaces, empty entries and a trailing comma, as the 'forwarded' package reads them.
    ['10.0.0.0/8', '10.0.0.5', ' , 203.0.113.9 ,, 10.1.1.1 , ', '203.0.113.9'],
    ['10.0.0.0/8', '10.0.0.5', '203.0.113.9 ,10.1.1.1,,', '203.0.113.9'],
    ['10.0.0.0/8', '10.0.0.5', ' , ,', '10.0.0.5'],
    ['10.0.0.0/8', '10.0.0.5', '10.2.2.2, 10.1.1.1', '10.2.2.2'],
    ['10.0.0.0/8', '10.0.0.5', 'not an address,10.1.1.1', 'not an address'],
    ['10.0.0.0/8', '10.0.0.5', 'a b , 10.1.1.1', 'a b'],
    // A client's thousand entries: only the proxies' end counts.
    ['10.0.0.5', '10.0.0.5', `${Array.from({ length: 1000 }, (_, i) => `203.0.113.${i % 250}`).join(', ')}, 198.51.100.7`, '198.51.100.7'],
  ];
  it.each(cases)('trust %s, peer %s, X-Forwarded-For %s: %s, as express says', (setting, peer, xff, expected) => {
    expect(clientAddress(request(peer, xff), setting ? trustOf(setting) : undefined)).toBe(expected);
    expect(expressIp(setting, peer, xff)).toBe(expected);
  });
});

/** express's own req.protocol for the same request. */
function expressProtocol(setting: string | undefined, peer: string, proto?: string, encrypted = false): string {
  return expressRequest(setting, peer, proto === undefined ? {} : { 'x-forwarded-proto': proto }, encrypted).protocol;
}

describe('requestProtocol', () => {
  const cases: Array<[string | undefined, string, string | undefined, boolean]> = [
    [undefined, '127.0.0.41', 'https', false],
    ['127.0.0.41', '127.0.0.41', 'https', false],
    ['127.0.0.41', '127.0.0.42', 'https', false],
    ['127.0.0.41', '127.0.0.41', 'https, http', false],
    ['127.0.0.41', '127.0.0.41', ' http ', true],
    ['127.0.0.41', '127.0.0.41', undefined, true],
    ['127.0.0.41', '127.0.0.41', '', false],
    ['loopback', '127.0.0.1', 'https', false],
  ];
  it.each(cases)('trust %s, peer %s, X-Forwarded-Proto %j, TLS %s: as express', (setting, peer, proto, encrypted) => {
    const req = { socket: { remoteAddress: peer, encrypted }, headers: proto === undefined ? {} : { 'x-forwarded-proto': proto } } as unknown as IncomingMessage;
    expect(requestProtocol(req, setting ? trustOf(setting) : undefined)).toBe(expressProtocol(setting, peer, proto, encrypted));
  });

  it('believes the header only from a trusted proxy', () => {
    const req = (peer: string) => ({ socket: { remoteAddress: peer }, headers: { 'x-forwarded-proto': 'https' } }) as unknown as IncomingMessage;
    expect(requestProtocol(req('127.0.0.41'), trustOf('127.0.0.41'))).toBe('https');
    expect(requestProtocol(req('127.0.0.42'), trustOf('127.0.0.41'))).toBe('http');
    expect(requestProtocol(req('127.0.0.41'), undefined)).toBe('http');
  });
});
