import type { Knex } from 'knex';

export type SsoLoginKind = 'npm' | 'console';
/**
 * pending: created (npm: POST /-/v1/login), the browser has not been sent to the IdP yet;
 * started: sent to the IdP (state, nonce and verifier set); done: signed in, the token not
 * yet fetched; refused: the sign-in was refused (the reason in `refusal`); taken: the token
 * was handed out (npm) or the console session made. Only pending/started/done move on.
 */
export type SsoLoginStatus = 'pending' | 'started' | 'done' | 'refused' | 'taken';

export interface SsoLogin {
  id: number;
  kind: SsoLoginKind;
  status: SsoLoginStatus;
  verifierHash: string | null;
  nonce: string | null;
  nextPath: string | null;
  userId: number | null;
  refusal: string | null;
  clientIp: string | null;
  createdAt: Date;
  expiresAt: Date;
}

interface Row {
  id: string | number;
  kind: SsoLoginKind;
  status: SsoLoginStatus;
  verifier_hash: string | null;
  nonce: string | null;
  next_path: string | null;
  user_id: number | null;
  refusal: string | null;
  client_ip: string | null;
  created_at: Date;
  expires_at: Date;
}

const toLogin = (row: Row): SsoLogin => ({
  id: Number(row.id),
  kind: row.kind,
  status: row.status,
  verifierHash: row.verifier_hash,
  nonce: row.nonce,
  nextPath: row.next_path,
  userId: row.user_id,
  refusal: row.refusal,
  clientIp: row.client_ip,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
});

/** Browser sign-ins through the identity provider (migration 013). Secrets are looked up by their SHA-256 only. */
export class SsoLoginRepository {
  constructor(private readonly db: Knex) {}

  async create(login: { kind: SsoLoginKind; loginHash?: string; doneHash?: string; nextPath?: string | null; clientIp?: string | null; ttlMs: number }): Promise<number> {
    const [row] = await this.db('sso_logins')
      .insert({
        kind: login.kind,
        login_hash: login.loginHash ?? null,
        done_hash: login.doneHash ?? null,
        next_path: login.nextPath ?? null,
        client_ip: login.clientIp ?? null,
        expires_at: this.db.raw(`now() + (? * interval '1 millisecond')`, [login.ttlMs]),
      })
      .returning('id');
    return Number(row.id);
  }

  private async findBy(column: 'id' | 'login_hash' | 'done_hash' | 'state_hash', value: string | number): Promise<SsoLogin | undefined> {
    const row = await this.db<Row>('sso_logins').where(column, value).first();
    return row ? toLogin(row) : undefined;
  }

  find(id: number) {
    return this.findBy('id', id);
  }
  findByLoginHash(hash: string) {
    return this.findBy('login_hash', hash);
  }
  findByDoneHash(hash: string) {
    return this.findBy('done_hash', hash);
  }
  findByStateHash(hash: string) {
    return this.findBy('state_hash', hash);
  }

  /** Sends the login to the IdP: only while pending or started (the browser may open the loginUrl again) and not expired. */
  async start(id: number, checks: { stateHash: string; verifierHash: string; nonce: string }): Promise<boolean> {
    const count = await this.db('sso_logins')
      .where({ id })
      .whereIn('status', ['pending', 'started'])
      .where('expires_at', '>', this.db.fn.now())
      .update({ status: 'started', state_hash: checks.stateHash, verifier_hash: checks.verifierHash, nonce: checks.nonce });
    return Number(count) === 1;
  }

  /** Logins from one client address that are still open (pending or started, not expired). */
  async countOpenFrom(ip: string): Promise<number> {
    const [{ count }] = await this.db('sso_logins')
      .where({ client_ip: ip })
      .whereIn('status', ['pending', 'started'])
      .where('expires_at', '>', this.db.fn.now())
      .count<{ count: string }[]>('* as count');
    return Number(count);
  }

  /** Uses up a state: true for the first callback with it only. */
  async consumeState(id: number, stateHash: string): Promise<boolean> {
    const count = await this.db('sso_logins').where({ id, state_hash: stateHash, status: 'started' }).update({ state_hash: null });
    return Number(count) === 1;
  }

  /**
   * Moves a login from one status to the next, once: the state is used up (no second
   * callback with the same state), and only while it has not expired. False: someone else
   * moved it first, or it expired.
   */
  async transition(id: number, from: SsoLoginStatus, to: SsoLoginStatus, fields: { userId?: number; refusal?: string } = {}): Promise<boolean> {
    const patch: Record<string, unknown> = { status: to };
    if (fields.userId !== undefined) patch.user_id = fields.userId;
    if (fields.refusal !== undefined) patch.refusal = fields.refusal.slice(0, 500);
    if (to !== 'started') patch.state_hash = null;
    const count = await this.db('sso_logins').where({ id, status: from }).where('expires_at', '>', this.db.fn.now()).update(patch);
    return Number(count) === 1;
  }

  /** Deletes logins that expired more than an hour ago (an expired one is still told apart from an unknown one for that long). */
  async prune(): Promise<number> {
    return Number(await this.db('sso_logins').where('expires_at', '<', this.db.raw(`now() - interval '1 hour'`)).delete());
  }
}
