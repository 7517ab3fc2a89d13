/**
 * A real OpenID Provider for the SSO tests: oidc-provider (ESM only, so it runs in its own
 * process, started by test/support/oidc.ts) on 127.0.0.1 and a free port, with plain HTML
 * login and consent forms that an HTTP client (or a browser) fills in.
 *
 * It prints one JSON line `{"issuer": ..., "port": ...}` when it listens. Control endpoints
 * (tests only, on the same port):
 * - POST /_control/setup   {clientId, clientSecret, redirectUris}: (re)creates the provider
 *   with this client (the gatekeeper's redirect URI is known only once it listens);
 * - PUT  /_control/users/:id {username, password, email, groups}: adds or changes a user; a
 *   user's groups can be changed at any time and count from their next sign-in.
 *
 * Environment: OIDC_ISSUER_PATH appends a path to the issuer it claims (a provider whose
 * discovery document names another issuer than the URL it is reached at);
 * OIDC_CLAIMS_IN_USERINFO=1 keeps profile, email and groups out of the ID token (userinfo only).
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const users = new Map();
let provider;
let handler;

const server = http.createServer((req, res) => {
  route(req, res).catch((err) => {
    process.stderr.write(`oidc test provider: ${err.stack ?? err}\n`);
    if (!res.headersSent) {
      res.statusCode = 500;
      res.end(String(err.message ?? err));
    } else res.destroy();
  });
});

await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = server.address().port;
const issuer = `http://127.0.0.1:${port}${process.env.OIDC_ISSUER_PATH ?? ''}`;
process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);

function body(req) {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (text += c));
    req.on('end', () => resolve(text));
    req.on('error', reject);
  });
}

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res, title, inner) {
  res.statusCode = 200;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><main><h1>${escape(title)}</h1>${inner}</main></body></html>`);
}

function createProvider({ clientId, clientSecret, redirectUris }) {
  const p = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: redirectUris,
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    // PKCE on every authorization request, as the gatekeeper sends it.
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'email', 'groups'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'], groups: ['groups'] },
    // Scope claims in the ID token (most IdPs put groups there when asked); with
    // OIDC_CLAIMS_IN_USERINFO=1, only in userinfo (OIDC's default for the code flow).
    conformIdTokenClaims: process.env.OIDC_CLAIMS_IN_USERINFO === '1',
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: [randomBytes(16).toString('hex')] },
    findAccount: async (_ctx, id) => {
      const user = users.get(id);
      if (!user) return undefined;
      return {
        accountId: id,
        // Read at every token: a change of groups counts from the next sign-in.
        claims: async () => ({ sub: id, preferred_username: user.username, name: user.username, email: user.email, groups: [...user.groups] }),
      };
    },
  });
  return p;
}

async function route(req, res) {
  const url = new URL(req.url, `http://127.0.0.1:${port}`);
  if (url.pathname === '/_control/setup' && req.method === 'POST') {
    provider = createProvider(JSON.parse(await body(req)));
    handler = provider.callback();
    res.end('{}');
    return;
  }
  const userPath = /^\/_control\/users\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
  if (userPath && req.method === 'PUT') {
    const input = JSON.parse(await body(req));
    users.set(userPath[1], { username: input.username, password: input.password, email: input.email, groups: input.groups ?? [] });
    res.end('{}');
    return;
  }
  if (!provider) {
    res.statusCode = 503;
    res.end('not set up: POST /_control/setup first');
    return;
  }
  const interaction = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|confirm))?$/.exec(url.pathname);
  if (interaction) {
    const details = await provider.interactionDetails(req, res);
    const uid = interaction[1];
    if (req.method === 'GET') {
      if (details.prompt.name === 'login') {
        page(
          res,
          'Sign in to the test IdP',
          `<form method="post" action="/interaction/${escape(uid)}/login"><label for="login">Username</label><input id="login" name="login"><label for="password">Password</label><input id="password" name="password" type="password"><button type="submit">Sign in</button></form>`,
        );
      } else {
        page(res, 'Allow access', `<form method="post" action="/interaction/${escape(uid)}/confirm"><button type="submit">Continue</button></form>`);
      }
      return;
    }
    const form = new URLSearchParams(await body(req));
    if (interaction[2] === 'login') {
      const entry = [...users.entries()].find(([, u]) => u.username === form.get('login') && u.password === form.get('password'));
      if (!entry) {
        page(res, 'Sign in to the test IdP', '<p role="alert">Wrong username or password</p>');
        return;
      }
      await provider.interactionFinished(req, res, { login: { accountId: entry[0] } }, { mergeWithLastSubmission: false });
      return;
    }
    const { prompt, params, session } = details;
    const grant = details.grantId ? await provider.Grant.find(details.grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
    if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
    if (prompt.details.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes)) grant.addResourceScope(indicator, scopes.join(' '));
    }
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  handler(req, res);
}

process.on('SIGTERM', () => server.close(() => process.exit(0)));
