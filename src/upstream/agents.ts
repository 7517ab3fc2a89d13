/**
 * Connection pools for the upstream client when no proxy is in play.
 *
 * make-fetch-happen otherwise asks @npmcli/agent for an agent on every request: it builds a
 * cache key from every option, and its agent (agent-base) works out whether it is an https
 * agent by capturing a stack trace each time Node reads `agent.protocol`, which Node does on
 * every request. On the cold path (two upstream calls per package seen for the first time)
 * that was a fifth of the upstream client's CPU. Without a proxy nothing of that is needed: a
 * plain keep-alive `http.Agent`/`https.Agent`, made once per protocol and client certificate,
 * connects the same way. npm's TLS options (`ca`, `cert`, `key`, `strict-ssl`), `localAddress`
 * and `maxSockets` are given to it; the client's own deadline bounds every call, so the
 * agent needs no timeouts of its own.
 *
 * With a proxy (npm's `proxy`/`https-proxy`, or the HTTP(S)_PROXY/PROXY environment
 * variables, which @npmcli/agent honours) or an `agent` of npm's options, `directAgents`
 * answers undefined and make-fetch-happen chooses the agent as before.
 */
import http from 'node:http';
import https from 'node:https';

const PROXY_VARIABLES = new Set(['https_proxy', 'http_proxy', 'proxy']);

export interface DirectAgents {
  /** The agent for a URL of this protocol with this client certificate (npm's per-registry `certfile`/`keyfile`). */
  for(protocol: string, cert: unknown, key: unknown): http.Agent;
}

/** Whether a proxy variable is set in this environment (names in any case, as @npmcli/agent reads them). */
export function proxyInEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return Object.entries(env).some(([name, value]) => PROXY_VARIABLES.has(name.toLowerCase()) && typeof value === 'string' && value.trim() !== '');
}

/** Direct agents for npm's options, or undefined when a proxy or a given agent must be used. */
export function directAgents(npm: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): DirectAgents | undefined {
  if (npm.agent != null || npm.proxy || npm.httpsProxy || proxyInEnvironment(env)) return undefined;
  const maxSockets = typeof npm.maxSockets === 'number' && npm.maxSockets > 0 ? npm.maxSockets : 15;
  const localAddress = typeof npm.localAddress === 'string' ? npm.localAddress : undefined;
  const common = { keepAlive: true, maxSockets, scheduling: 'fifo' as const, ...(localAddress ? { localAddress } : {}) };
  const made = new Map<string, http.Agent>();
  return {
    for(protocol, cert, key) {
      const secure = protocol === 'https:';
      const id = secure ? `https\0${String(cert ?? '')}\0${String(key ?? '')}` : 'http';
      let agent = made.get(id);
      if (!agent) {
        agent = secure
          ? new https.Agent({
              ...common,
              ...(npm.ca != null ? { ca: npm.ca as string | string[] } : {}),
              ...(cert ? { cert: cert as string } : {}),
              ...(key ? { key: key as string } : {}),
              rejectUnauthorized: npm.strictSSL !== false,
            })
          : new http.Agent(common);
        made.set(id, agent);
      }
      return agent;
    },
  };
}
