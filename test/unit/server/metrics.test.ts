/**
 * The metrics' labels stay bounded: a request the route table refuses is counted under one
 * fixed route label, whatever its URL; rule ids become rule kinds; each instance has its own
 * registry. The requests go through a real HTTP server composed as start.ts composes it
 * (route table first, the metrics' response tracking on every request).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { compileAddressList } from '../../../src/core/address-list';
import { ConfigError, loadSettings } from '../../../src/server/config';
import { GatekeeperMetrics, NO_CODE, ruleLabel, UNLISTED_ROUTE } from '../../../src/server/metrics';
import { matchOrRefuse, REGISTRY_ROUTES } from '../../../src/server/registry/routes';
import { parseMetrics, samplesOf, sumOf } from '../../support/prometheus';

describe('metrics labels', () => {
  let metrics: GatekeeperMetrics;
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    metrics = new GatekeeperMetrics();
    server = http.createServer((req, res) => {
      metrics.track(req, res);
      const match = matchOrRefuse(req, res);
      if (match) {
        res.statusCode = 200;
        res.end('ok');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const request = async (method: string, path: string): Promise<number> => {
    const res = await fetch(base + path, { method });
    await res.arrayBuffer();
    return res.status;
  };

  /** Scrapes once every request so far has been counted (a response is counted when it closes). */
  const scrapeAfter = async (requests: number) => {
    for (;;) {
      const samples = parseMetrics((await metrics.render()).body);
      if (sumOf(samples, 'gatekeeper_http_requests_total') >= requests) return samples;
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it('counts refused URLs under one fixed route label, never their raw path', async () => {
    expect(await request('GET', '/-/secret-unlisted-path/abc')).toBe(404);
    expect(await request('GET', '/-/another-secret-path')).toBe(404);
    expect(await request('GET', '/%E0%A4%A')).toBe(400);
    expect(await request('DELETE', '/-/ping')).toBe(405);
    expect(await request('GET', '/-/ping')).toBe(200);

    const samples = await scrapeAfter(5);
    const { body } = await metrics.render();
    expect(body).not.toContain('secret');
    expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: UNLISTED_ROUTE, status: '404', code: 'ENOTFOUND' })).toBe(2);
    expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: UNLISTED_ROUTE, status: '400', code: 'EVALIDATION' })).toBe(1);
    expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: UNLISTED_ROUTE, status: '405', code: 'EMETHODNOTALLOWED' })).toBe(1);
    expect(sumOf(samples, 'gatekeeper_http_requests_total', { route: 'ping', status: '200', code: NO_CODE })).toBe(1);
  });

  it('keeps the number of series fixed however many distinct URLs arrive', async () => {
    const before = samplesOf(await scrapeAfter(5), 'gatekeeper_http_requests_total');
    for (let i = 0; i < 40; i++) await request('GET', `/-/random-${i}-${Math.random().toString(36).slice(2)}`);
    const after = await scrapeAfter(45);
    const series = samplesOf(after, 'gatekeeper_http_requests_total');
    expect(series).toHaveLength(before.length);
    expect(sumOf(after, 'gatekeeper_http_requests_total', { route: UNLISTED_ROUTE, status: '404' })).toBe(42);
    const known = new Set([...REGISTRY_ROUTES.map((r) => r.name), UNLISTED_ROUTE]);
    for (const s of series) expect(known.has(s.labels.route)).toBe(true);
  });

  it('labels decisions by rule kind, not by rule id', () => {
    expect(ruleLabel('ban:12')).toBe('ban');
    expect(ruleLabel('mode:allowlist')).toBe('mode');
    expect(ruleLabel('approval:3')).toBe('approval');
    expect(ruleLabel('upstream')).toBe('upstream');
    expect(ruleLabel('Évil rule:1')).toBe('other');
    expect(ruleLabel(null)).toBe('none');
  });

  it('counts blocked installs and decisions per label combination, whatever the rule id', async () => {
    const m = new GatekeeperMetrics();
    for (const id of ['ban:1', 'ban:2', 'ban:1', 'Évil:9']) m.installBlocked('EBANNED', id, 'tarball');
    m.installBlocked('EBANNED', null, 'tarball');
    const samples = parseMetrics((await m.render()).body);
    expect(samplesOf(samples, 'gatekeeper_installs_blocked_total').map((x) => [x.labels.rule, x.value]).sort()).toEqual([
      ['ban', 3],
      ['none', 1],
      ['other', 1],
    ]);
  });

  it('gives each instance its own registry', async () => {
    const a = new GatekeeperMetrics();
    const b = new GatekeeperMetrics();
    a.countRequest('packument', 403, 'EBANNED');
    a.installBlocked('EBANNED', 'ban:4', 'packument');
    const fromA = parseMetrics((await a.render()).body);
    const fromB = parseMetrics((await b.render()).body);
    expect(sumOf(fromA, 'gatekeeper_http_requests_total', { route: 'packument', status: '403', code: 'EBANNED' })).toBe(1);
    expect(sumOf(fromA, 'gatekeeper_installs_blocked_total', { code: 'EBANNED', rule: 'ban', via: 'packument' })).toBe(1);
    expect(sumOf(fromB, 'gatekeeper_http_requests_total')).toBe(0);
    expect(sumOf(fromB, 'gatekeeper_installs_blocked_total')).toBe(0);
    // Default process metrics in both.
    expect(samplesOf(fromA, 'process_cpu_user_seconds_total')).toHaveLength(1);
    expect(samplesOf(fromB, 'process_cpu_user_seconds_total')).toHaveLength(1);
  });
});

describe('metrics access by address', () => {
  it('matches addresses and subnets, IPv4 seen as IPv4-mapped IPv6 too', () => {
    const list = compileAddressList(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', '::1']);
    expect(list.has('127.0.0.1')).toBe(true);
    expect(list.has('::ffff:127.0.0.1')).toBe(true);
    expect(list.has('10.200.3.4')).toBe(true);
    expect(list.has('::ffff:10.1.1.1')).toBe(true);
    expect(list.has('fd12:3456::1')).toBe(true);
    expect(list.has('::1')).toBe(true);
    expect(list.has('127.0.0.2')).toBe(false);
    expect(list.has('11.0.0.1')).toBe(false);
    expect(list.has('fe80::1')).toBe(false);
    expect(list.has(undefined)).toBe(false);
    expect(list.has('not an address')).toBe(false);
    expect(compileAddressList([]).has('127.0.0.1')).toBe(false);
  });

  it('reads GATEKEEPER_METRICS_ALLOW and refuses what is not an address or subnet', () => {
    expect(loadSettings({}, '/tmp').metricsAllow).toEqual([]);
    expect(loadSettings({ GATEKEEPER_CONFIG: path.resolve(__dirname, '../../../config/gatekeeper.example.yaml') }, '/tmp').metricsAllow).toEqual([]);
    expect(loadSettings({ GATEKEEPER_METRICS_ALLOW: '127.0.0.1, 10.0.0.0/8,::1' }, '/tmp').metricsAllow).toEqual(['127.0.0.1', '10.0.0.0/8', '::1']);
    for (const bad of ['localhost', '10.0.0.0/33', '::1/129', '10.0.0.1/8/2', 'loopback']) {
      expect(() => loadSettings({ GATEKEEPER_METRICS_ALLOW: bad }, '/tmp')).toThrow(ConfigError);
      expect(() => loadSettings({ GATEKEEPER_METRICS_ALLOW: bad }, '/tmp')).toThrow('GATEKEEPER_METRICS_ALLOW');
    }
  });
});
