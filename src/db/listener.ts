import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Client } from 'pg';
import { unacknowledgedBytes } from './tcp-state';

/** How many heartbeat intervals an answer may take before the connection counts as lost. */
const HEARTBEAT_GRACE = 3;
/** However busy the database, a heartbeat unanswered for this many intervals is a lost connection. */
const HEARTBEAT_GRACE_BUSY = 15;

/** The connection's `application_name`, so operators (and tests) can find it in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'npm-gatekeeper listener';

export interface ListenerOptions {
  /** Milliseconds between reconnection attempts. */
  retryMs?: number;
  /** Milliseconds between heartbeats (`select 1`); 0: none. */
  heartbeatMs?: number;
  /**
   * A query on another connection to the same database (the pool's `select 1`). Where the
   * kernel's TCP state cannot be read (not Linux), it tells a dead link (the probe answers,
   * this connection does not) from a database too busy to answer anyone soon.
   */
  probe?: () => Promise<unknown>;
  /** How many bytes sent on a socket its peer has not acknowledged (tcp-state.ts); undefined: unknown. */
  unacknowledged?: (socket: net.Socket) => Promise<number | undefined>;
}

/** Payloads of the barrier protocol (see `barrier`); never passed on as messages. */
const SYNC = 'gk-sync:';
const ACK = 'gk-ack:';

/**
 * A dedicated connection that LISTENs on one or more channels and reconnects when it drops.
 * Events: `connected` (after LISTEN succeeded, including reconnects), `disconnected`,
 * `notification` (payload string; the first channel only), `message` (channel, payload;
 * every channel) and `slow` (a heartbeat unanswered past its grace on a link whose bytes the
 * database host, or a proxy in between, acknowledged: not yet a lost connection, but no
 * longer a trusted one). `connected` and `disconnected` are about trust: a heartbeat
 * unanswered past its grace ends it while the connection stays open (see startHeartbeat).
 *
 * Notifications sent while it was not listening are lost: whoever uses a channel must
 * treat `connected` as "anything may have changed" (PolicyCache reloads, TokenCache empties).
 *
 * One connection carries every channel, so the caches that depend on it are trusted or not
 * together, and each process holds one listening connection.
 */

export class ChannelListener extends EventEmitter {
  private client: Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private _connected = false;
  private heartbeat: NodeJS.Timeout | undefined;
  private readonly channels: readonly string[];
  private readonly barriers = new Map<string, { acks: number; wake: () => void }>();

  private readonly retryMs: number;
  private readonly heartbeatMs: number;
  private readonly probe: (() => Promise<unknown>) | undefined;
  private readonly unacknowledged: (socket: net.Socket) => Promise<number | undefined>;

  constructor(
    private readonly url: string,
    channel: string | readonly string[],
    options: ListenerOptions = {},
  ) {
    super();
    this.channels = typeof channel === 'string' ? [channel] : [...channel];
    if (this.channels.length === 0) throw new Error('a ChannelListener needs at least one channel');
    this.retryMs = options.retryMs ?? 250;
    this.heartbeatMs = options.heartbeatMs ?? 2000;
    this.probe = options.probe;
    this.unacknowledged = options.unacknowledged ?? unacknowledgedBytes;
  }

  get connected(): boolean {
    return this._connected;
  }

  /** Resolves once listening; rejects if the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new Client({ connectionString: this.url, connectionTimeoutMillis: 3000, keepAlive: true, application_name: LISTENER_APPLICATION_NAME });
    const lost = () => this.onLost(client);
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (msg) => this.onNotification(client, msg.channel, msg.payload ?? ''));
    try {
      await client.connect();
      for (const channel of this.channels) await client.query(`LISTEN "${channel.replace(/"/g, '""')}"`);
    } catch (err) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
      throw err;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this._connected = true;
    this.startHeartbeat(client);
    this.emit('connected');
  }

  private onNotification(client: Client, channel: string, payload: string): void {
    if (!this.channels.includes(channel)) return;
    if (payload.startsWith(SYNC)) {
      // Every message committed before this one has been handled (delivery is in commit
      // order, handlers run synchronously): say so to whoever waits at the barrier.
      if (this.client === client) client.query('select pg_notify($1, $2)', [channel, `${ACK}${payload.slice(SYNC.length)}`]).catch(() => undefined);
      return;
    }
    if (payload.startsWith(ACK)) {
      const waiting = this.barriers.get(payload.slice(ACK.length));
      if (waiting) {
        waiting.acks++;
        waiting.wake();
      }
      return;
    }
    if (channel === this.channels[0]) this.emit('notification', payload);
    this.emit('message', channel, payload);
  }

  /**
   * Waits until every process listening on this database has handled the messages committed
   * on `channel` before this call (or `timeoutMs` passed): it sends a sync message, counts the
   * listening connections, and waits for as many acknowledgements (listeners acknowledge after
   * handling everything delivered before it). Resolves with whether all answered in time.
   * Used after a token revocation, so that "refused on its next request" holds in every
   * process, not only in this one.
   */
  async barrier(channel: string, timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (!client || !this.channels.includes(channel)) return false;
    const id = randomUUID();
    let wake = () => undefined as void;
    const state = { acks: 0, wake: () => wake() };
    this.barriers.set(id, state);
    try {
      const { rows } = await client.query<{ n: number }>(
        'select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = $1',
        [LISTENER_APPLICATION_NAME],
      );
      const expected = rows[0]?.n ?? 1;
      await client.query('select pg_notify($1, $2)', [channel, `${SYNC}${id}`]);
      const deadline = Date.now() + timeoutMs;
      while (state.acks < expected) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return true;
    } catch {
      return false;
    } finally {
      this.barriers.delete(id);
    }
  }

  /**
   * How long a barrier waits for the acknowledgements: past it, a listener that has not
   * acknowledged has gone a heartbeat's grace without an answer since the barrier began, so it
   * no longer trusts its caches (see startHeartbeat): an interval for the heartbeat to be sent,
   * its grace, and half an interval for the verdict to run.
   */
  get confirmWithinMs(): number {
    return this.heartbeatMs > 0 ? this.heartbeatMs * (HEARTBEAT_GRACE + 1.5) : 2000;
  }

  /** Whether the LISTEN connection is open, trusted or not (`connected` is the trust). */
  get linked(): boolean {
    return this.client !== undefined;
  }

  /**
   * A silent network failure would otherwise leave us "connected" to nothing for minutes.
   *
   * Two decisions, with two bounds. Trust: a heartbeat unanswered for HEARTBEAT_GRACE
   * intervals ends it at once, whatever the cause (`disconnected`; nothing is served from the
   * caches): without an answer there is no guarantee that announcements still arrive, and a
   * proxy in between (PgBouncer, HAProxy, a cloud SQL proxy) acknowledges the bytes itself, so
   * the link's TCP state cannot tell a hung database link from a slow database. The answer,
   * when it comes, restores it (`connected`: the caches reload, as after a reconnect).
   * Reconnecting: only for a link judged dead.
   */
  private startHeartbeat(client: Client): void {
    if (this.heartbeatMs <= 0) return;
    clearInterval(this.heartbeat);
    let inFlight = false;
    this.heartbeat = setInterval(() => {
      if (this.client !== client || inFlight) return;
      inFlight = true;
      let answered = false;
      // A busy event loop (a large lockfile check) delays the answer's callback, not the
      // answer: only a heartbeat still unanswered after several intervals means the link is
      // gone. Timers run before the turn reads the sockets, so after a long turn the deadline
      // fires with the answer already waiting unread: the verdict waits for that read
      // (setImmediate runs after it). Nor is a database process too starved of CPU to answer
      // for seconds a lost link (ten large lockfile checks at once, the gatekeeper and its
      // embedded database on one CPU: its backend waited 2 s to run): the server's kernel
      // acknowledged the heartbeat, so the link carries bytes, and the connection is kept
      // (reconnecting would not make it faster), though not trusted until it answers. Bytes
      // unacknowledged after the grace are a dead link. Where TCP state cannot be read, the
      // probe, on another connection, tells them apart. Silent network failures end trust
      // within HEARTBEAT_GRACE intervals whatever the cause, and a heartbeat unanswered for
      // HEARTBEAT_GRACE_BUSY intervals is a lost link whatever the cause.
      const lost = () => {
        if (!answered) this.onLost(client);
      };
      const busyCap = setTimeout(lost, this.heartbeatMs * HEARTBEAT_GRACE_BUSY);
      busyCap.unref();
      const timeout = setTimeout(() => {
        setImmediate(() => {
          if (answered) return;
          this.distrust(client);
          void this.verdict(client).then((dead) => {
            if (dead === true) lost();
            else if (dead === false) {
              if (!answered) this.emit('slow');
            } else {
              if (!this.probe) return lost();
              // The probe is answered after this heartbeat's answer when the database is merely
              // slow (it was asked later); before it, or not at all, when this link is dead. Both
              // answers can be read in one turn, the probe's first: the verdict waits for the
              // rest of that turn's reads (setImmediate runs after them).
              const decide = () => setImmediate(lost);
              this.probe().then(decide, decide);
            }
          });
        });
      }, this.heartbeatMs * HEARTBEAT_GRACE);
      timeout.unref();
      client.query('select 1').then(
        () => {
          answered = true;
          inFlight = false;
          clearTimeout(timeout);
          clearTimeout(busyCap);
          this.trustAgain(client);
        },
        () => {
          answered = true;
          inFlight = false;
          clearTimeout(timeout);
          clearTimeout(busyCap);
          this.onLost(client);
        },
      );
    }, this.heartbeatMs);
    this.heartbeat.unref();
  }

  /** A heartbeat went unanswered past its grace: the caches stop trusting this link, which stays open. */
  private distrust(client: Client): void {
    if (this.client !== client || !this._connected) return;
    this._connected = false;
    this.emit('disconnected');
  }

  /** A late heartbeat was answered on a link still open: trusted again, as after a reconnect. */
  private trustAgain(client: Client): void {
    if (this.client !== client || this._connected || this.closed) return;
    this._connected = true;
    this.emit('connected');
  }

  /**
   * After a heartbeat's grace: whether the link is dead by its TCP state (bytes still
   * unacknowledged, or not yet handed to the kernel), alive (all acknowledged: the database
   * is slow), or undefined when that cannot be read.
   */
  private async verdict(client: Client): Promise<boolean | undefined> {
    const socket = (client as unknown as { connection?: { stream?: net.Socket } }).connection?.stream;
    if (!socket) return undefined;
    if (socket.writableLength > 0) return true;
    const unacked = await this.unacknowledged(socket).catch(() => undefined);
    return unacked === undefined ? undefined : unacked > 0;
  }

  private onLost(client: Client): void {
    if (this.client !== client) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    client.removeAllListeners();
    client.on('error', () => undefined);
    client.end().catch(() => undefined);
    if (this._connected) {
      this._connected = false;
      this.emit('disconnected');
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.connect().catch(() => this.scheduleReconnect());
    }, this.retryMs);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    this._connected = false;
    if (client) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      await client.end().catch(() => undefined);
    }
  }
}
