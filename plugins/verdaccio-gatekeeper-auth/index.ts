import { ErrorCode, statusOf } from '../../src/core/errors';
import { can, isRole } from '../../src/core/roles';
import { createIdentityMiddleware, RemoteUserHelpers } from '../../src/server/registry/identity';
import { GATE_PLUGINS, GatekeeperRuntime, runtimeFor } from '../../src/server/runtime';

type Callback = (err: Error | null, ok?: boolean | string[]) => void;
interface RemoteUser {
  name?: string;
  real_groups?: string[];
}

const roleOf = (user: RemoteUser | undefined) => user?.real_groups?.find(isRole);
/**
 * A refusal for Verdaccio's callbacks: its status comes from our code (the one table), and
 * the `[CODE]` leads the message, so the route table's error writer turns it back into ours.
 */
const denied = (code: ErrorCode, message: string) => {
  const status = statusOf(code);
  return Object.assign(new Error(`[${code}] ${message}`), { status, statusCode: status });
};

/**
 * Auth plugin: our tokens and users (governance database) instead of Verdaccio's.
 * Registry reads are gated by the middleware plugin; this answers Verdaccio's own checks.
 */
export default class GatekeeperAuth {
  private readonly runtime: GatekeeperRuntime;

  constructor(config: unknown) {
    this.runtime = runtimeFor(config, GATE_PLUGINS.auth);
    this.runtime.pluginLoaded(GATE_PLUGINS.auth);
  }

  /** Replaces Verdaccio's token middleware: resolves our tokens on every request. */
  apiJWTmiddleware(helpers: RemoteUserHelpers) {
    return createIdentityMiddleware(this.runtime, helpers);
  }

  authenticate(username: string, password: string, cb: Callback): void {
    this.runtime.identity.resolveBasic(username, password).then(
      (principal) => cb(null, [principal.role]),
      () => cb(null, false),
    );
  }

  adduser(_user: string, _password: string, cb: Callback): void {
    // npm adduser is answered by our login route before Verdaccio sees it.
    cb(denied('ESELFREGISTRATION', "use 'npm login' against the gatekeeper"));
  }

  allow_access(user: RemoteUser, _pkg: unknown, cb: Callback): void {
    const role = roleOf(user);
    if (this.runtime.settings.requireAuth && !role) return cb(denied('EUNAUTHENTICATED', "this registry requires a login. Run 'npm login'"));
    if (role && !can(role, 'install')) return cb(denied('EFORBIDDEN', `${user.name} may not install packages. Ask an admin for another role`));
    cb(null, true);
  }

  allow_publish(user: RemoteUser, pkg: { name?: string }, cb: Callback): void {
    const role = roleOf(user);
    const who = role && user.name ? { username: user.name, role } : undefined;
    try {
      if (!pkg?.name || !this.runtime.publishing.mayPublish(who, pkg.name)) {
        return cb(denied('EFORBIDDEN', `${user?.name ?? 'anonymous'} may not publish ${pkg?.name ?? 'this package'}. Ask an admin for a publish rule`));
      }
    } catch (err) {
      return cb(denied('EPOLICYUNAVAILABLE', `publish rules cannot be checked right now (${(err as Error).message}). Try again later`));
    }
    cb(null, true);
  }

  /** The unpublish policy (time window, publisher) is checked per version by the write guard. */
  allow_unpublish(user: RemoteUser, pkg: { name?: string }, cb: Callback): void {
    this.allow_publish(user, pkg, cb);
  }
}
