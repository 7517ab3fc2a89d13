/**
 * deploy/: Docker cannot run here, so the compose file is read as YAML and its wiring checked
 * (three gatekeepers from the Dockerfile's image on one database and one storage volume,
 * HAProxy in front trusted for X-Forwarded-For), and HAProxy itself checks deploy/haproxy.cfg
 * (`haproxy -c`), which test/integration/cluster.test.ts also runs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { BlockList } from 'node:net';
import { parseDuration } from '../../src/core/duration';
import { loadSettings } from '../../src/server/config';
import { ADMIN_PREFIX } from '../../src/admin/router';
import { checkHaproxyConfig, HAPROXY_CFG, haproxyConfigFor, templateServers } from '../support/haproxy';
import { REPO } from '../support/process';

const DEPLOY = path.join(REPO, 'deploy');

interface Service {
  build?: { context: string; dockerfile: string };
  image?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  networks?: Record<string, { ipv4_address?: string } | null> | string[];
  healthcheck?: { test: string[] };
  command?: string[];
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks: Record<string, { ipam?: { config: Array<{ subnet: string }> } }>;
}

/** ${VAR:?message} and ${VAR:-default} as compose expands them, with the given values. */
function expand(text: string, values: Record<string, string>): string {
  return text.replace(/\$\{(\w+)(?::([?-])([^}]*))?\}/g, (_m, name: string, kind?: string, rest?: string) => {
    if (values[name] !== undefined && values[name] !== '') return values[name];
    if (kind === '?') throw new Error(`compose would stop: ${rest}`);
    return rest ?? '';
  });
}

const haproxyText = fs.readFileSync(HAPROXY_CFG, 'utf8');
const haproxyLines = haproxyText.split('\n').map((l) => l.trim());
const VALUES = { POSTGRES_PASSWORD: 'pg-secret', GATEKEEPER_ADMIN_PASSWORD: 'admin-secret' };
const compose = yaml.load(expand(fs.readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8'), VALUES)) as Compose;
const gatekeepers = ['gatekeeper1', 'gatekeeper2', 'gatekeeper3'];

describe('deploy/compose.yaml', () => {
  it('needs the passwords set, and does not write a default for them', () => {
    expect(() => expand(fs.readFileSync(path.join(DEPLOY, 'compose.yaml'), 'utf8'), {})).toThrow(/set POSTGRES_PASSWORD/);
  });

  it('has PostgreSQL, three gatekeepers and HAProxy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['gatekeeper1', 'gatekeeper2', 'gatekeeper3', 'haproxy', 'postgres']);
  });

  it("runs the three gatekeepers from the repository's Dockerfile, as one image", () => {
    for (const name of gatekeepers) {
      const s = compose.services[name];
      expect(s.build).toBeDefined();
      expect(fs.existsSync(path.resolve(DEPLOY, s.build!.context, s.build!.dockerfile))).toBe(true);
      expect(path.resolve(DEPLOY, s.build!.context)).toBe(REPO);
      expect(s.image).toBe(compose.services.gatekeeper1.image);
    }
  });

  it('shares one database and one storage volume mounted at the data directory', () => {
    const dockerfile = fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8');
    const dataDir = /GATEKEEPER_DATA_DIR=(\S+)/.exec(dockerfile)?.[1];
    expect(dataDir).toBe('/data');
    const pg = compose.services.postgres;
    for (const name of gatekeepers) {
      const s = compose.services[name];
      const url = new URL(s.environment!.GATEKEEPER_DATABASE_URL);
      expect(url.hostname).toBe('postgres');
      expect(url.pathname).toBe(`/${pg.environment!.POSTGRES_DB}`);
      expect(decodeURIComponent(url.username)).toBe(pg.environment!.POSTGRES_USER);
      expect(decodeURIComponent(url.password)).toBe(pg.environment!.POSTGRES_PASSWORD);
      expect(s.volumes).toEqual([`storage:${dataDir}`]);
      // Started only once PostgreSQL answers.
      expect(s.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    }
    expect(compose.volumes).toHaveProperty('storage');
    expect(pg.volumes).toEqual(['pgdata:/var/lib/postgresql/data']);
    expect(compose.volumes).toHaveProperty('pgdata');
    expect(pg.healthcheck?.test.join(' ')).toContain('pg_isready');
  });

  it("gives the gatekeepers settings they accept, trusting exactly HAProxy's address", () => {
    const haproxy = compose.services.haproxy;
    const address = (haproxy.networks as Record<string, { ipv4_address?: string }>).registry.ipv4_address!;
    const subnet = compose.networks.registry.ipam!.config[0].subnet.split('/');
    const list = new BlockList();
    list.addSubnet(subnet[0], Number(subnet[1]));
    expect(list.check(address)).toBe(true);
    for (const name of gatekeepers) {
      const env = compose.services[name].environment!;
      const settings = loadSettings({ ...env, GATEKEEPER_DATA_DIR: '/data' }, os.tmpdir());
      expect(settings.trustProxy).toEqual([address]);
      expect(settings.databaseUrl).toBeDefined();
      // Unset, the upstream is the registry npm in the image is configured with.
      expect(settings.upstream).toBeUndefined();
      expect(loadSettings({ ...env, GATEKEEPER_UPSTREAM: 'https://registry.example.test/' }, os.tmpdir()).upstream).toBe('https://registry.example.test/');
      expect(compose.services[name].networks).toEqual(['registry']);
    }
  });

  it('keeps a stopping gatekeeper unready for longer than HAProxy needs to take it out', () => {
    const env = compose.services.gatekeeper1.environment!;
    const serverDefaults = haproxyLines.find((l) => l.startsWith('default-server'))!;
    const inter = parseDuration(/\binter (\S+)/.exec(serverDefaults)![1]);
    const fall = Number(/\bfall (\d+)/.exec(serverDefaults)![1]);
    expect(parseDuration(env.GATEKEEPER_SHUTDOWN_DELAY)).toBeGreaterThan(inter * fall);
  });

  it('mounts deploy/haproxy.cfg into HAProxy and publishes the port it binds', () => {
    const haproxy = compose.services.haproxy;
    const mount = haproxy.volumes!.find((v) => v.endsWith(':/usr/local/etc/haproxy/haproxy.cfg:ro'))!;
    expect(path.resolve(DEPLOY, mount.split(':')[0])).toBe(HAPROXY_CFG);
    const bindPort = /^bind\s+\S*:(\d+)$/m.exec(haproxyText.replace(/^\s+/gm, ''))![1];
    expect(haproxy.ports).toEqual([`${bindPort}:${bindPort}`]);
  });
});

describe('deploy/haproxy.cfg', () => {
  it('sends traffic to the three gatekeepers of the compose file, on the port the image listens on', () => {
    const port = /GATEKEEPER_PORT=(\d+)/.exec(fs.readFileSync(path.join(REPO, 'Dockerfile'), 'utf8'))![1];
    expect(templateServers().map((s) => s.address)).toEqual(gatekeepers.map((g) => `${g}:${port}`));
  });

  it('checks readiness, forwards the client address and retries failed idempotent requests elsewhere', () => {
    expect(haproxyLines).toContain('mode http');
    expect(haproxyLines).toContain(`option httpchk GET ${ADMIN_PREFIX}/ready`);
    expect(haproxyLines).toContain('http-check expect status 200');
    expect(haproxyLines).toContain('option forwardfor');
    expect(haproxyLines).toContain('option redispatch 1');
    expect(haproxyLines.find((l) => l.startsWith('retry-on'))).toMatch(/\bconn-failure\b.*\bempty-response\b/);
    expect(haproxyLines).toContain('http-request disable-l7-retry unless METH_GET');
    expect(haproxyLines.some((l) => /^balance (roundrobin|leastconn)$/.test(l))).toBe(true);
    // Every server is health-checked.
    expect(haproxyLines.find((l) => l.startsWith('default-server'))).toMatch(/(^|\s)check(\s|$)/);
  });

  it('is accepted by haproxy -c, as written and with a test\'s addresses', () => {
    const asWritten = checkHaproxyConfig(HAPROXY_CFG);
    expect(asWritten.output).toContain('Configuration file is valid');
    expect(asWritten.ok).toBe(true);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-haproxy-check-'));
    try {
      const file = path.join(dir, 'haproxy.cfg');
      fs.writeFileSync(file, haproxyConfigFor('127.0.0.1:1', ['127.0.0.1:2', '127.0.0.1:3', '127.0.0.1:4']));
      const forTest = checkHaproxyConfig(file);
      expect(forTest.ok).toBe(true);
      // With addresses, nothing is left to resolve: no warnings at all.
      expect(forTest.output).not.toContain('WARNING');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a broken file (the check can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gk-haproxy-check-'));
    try {
      const file = path.join(dir, 'haproxy.cfg');
      fs.writeFileSync(file, haproxyText.replace('balance leastconn', 'balance sideways'));
      expect(checkHaproxyConfig(file).ok).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
