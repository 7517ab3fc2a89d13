/**
 * The real OpenID Provider of the SSO tests (test/support/oidc-provider.mjs, oidc-provider in
 * its own process) and an HTTP "browser" that follows its login and consent forms with a
 * cookie jar, the way a person's browser would.
 */
import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

export interface TestIdpUser {
  username: string;
  password: string;
  email?: string;
  groups: string[];
}

export interface TestIdp {
  issuer: string;
  url: string;
  /** (Re)creates the provider with the gatekeeper's client. */
  setup(client: { clientId: string; clientSecret: string; redirectUris: string[] }): Promise<void>;
  /** Adds a user or changes one (groups count from their next sign-in). */
  user(id: string, user: TestIdpUser): Promise<void>;
  output(): string;
  close(): Promise<void>;
}

export async function startTestIdp(env: Record<string, string> = {}): Promise<TestIdp> {
  const proc: ChildProcess = spawn(process.execPath, [path.join(__dirname, 'oidc-provider.mjs')], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stderr?.on('data', (c) => (output += c));
  const exited = new Promise<void>((resolve) => proc.on('close', () => resolve()));
  const first = await new Promise<{ issuer: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the test IdP did not start:\n${output}`)), 30_000);
    let line = '';
    proc.stdout?.on('data', (c) => {
      line += c;
      const nl = line.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(line.slice(0, nl)));
      }
    });
    proc.on('close', (code) => reject(new Error(`the test IdP exited (${code}):\n${output}`)));
  });
  const url = `http://127.0.0.1:${first.port}`;
  const control = async (method: string, p: string, body: unknown) => {
    const res = await fetch(`${url}${p}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`test IdP ${method} ${p}: ${res.status} ${await res.text()}`);
  };
  return {
    issuer: first.issuer,
    url,
    setup: (client) => control('POST', '/_control/setup', client),
    user: (id, user) => control('PUT', `/_control/users/${id}`, user),
    output: () => output,
    close: async () => {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** A small cookie jar, per host (paths are ignored: every cookie goes to every path of its host). */
export class CookieJar {
  private readonly jar = new Map<string, Map<string, string>>();

  store(url: string, res: Response): void {
    const host = new URL(url).host;
    const cookies = this.jar.get(host) ?? new Map<string, string>();
    for (const header of res.headers.getSetCookie()) {
      const [pair, ...attrs] = header.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1]) < Date.now());
      if (expired || value === '') cookies.delete(name);
      else cookies.set(name, value);
    }
    this.jar.set(host, cookies);
  }

  header(url: string): string | undefined {
    const cookies = this.jar.get(new URL(url).host);
    if (!cookies || cookies.size === 0) return undefined;
    return [...cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  get(url: string, name: string): string | undefined {
    return this.jar.get(new URL(url).host)?.get(name);
  }

  delete(url: string, name: string): void {
    this.jar.get(new URL(url).host)?.delete(name);
  }
}

export interface Step {
  url: string;
  status: number;
  location?: string;
  body: string;
  headers: Headers;
}

/**
 * A browser without JavaScript: follows redirects and submits the IdP's forms (login with
 * the user's username and password, then consent). Stops when `stopAt(url)` is true for a
 * URL about to be requested (its request is not made) or at the first page that is no IdP
 * form; returns every step.
 */
export async function browse(
  start: string,
  user: { username: string; password: string },
  options: { jar?: CookieJar; stopAt?: (url: string) => boolean; maxSteps?: number } = {},
): Promise<{ steps: Step[]; last: Step; stoppedAt?: string; jar: CookieJar }> {
  const jar = options.jar ?? new CookieJar();
  const steps: Step[] = [];
  let next: { url: string; method: string; body?: string } | undefined = { url: start, method: 'GET' };
  let stoppedAt: string | undefined;
  for (let i = 0; next && i < (options.maxSteps ?? 20); i++) {
    if (options.stopAt?.(next.url)) {
      stoppedAt = next.url;
      break;
    }
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = jar.header(next.url);
    if (cookie) headers.cookie = cookie;
    if (next.body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(next.url, { method: next.method, headers, body: next.body, redirect: 'manual' });
    jar.store(next.url, res);
    const body = await res.text();
    const location = res.headers.get('location') ?? undefined;
    const step: Step = { url: next.url, status: res.status, location, body, headers: res.headers };
    steps.push(step);
    if (location && res.status >= 300 && res.status < 400) {
      next = { url: new URL(location, next.url).toString(), method: 'GET' };
      continue;
    }
    const form = /<form method="post" action="([^"]+)">/.exec(body);
    if (!form) break;
    const action = new URL(form[1].replace(/&#(\d+);/g, (_m, c) => String.fromCharCode(Number(c))), next.url).toString();
    const fields = body.includes('name="login"') ? new URLSearchParams({ login: user.username, password: user.password }).toString() : '';
    next = { url: action, method: 'POST', body: fields };
  }
  return { steps, last: steps[steps.length - 1], stoppedAt, jar };
}
