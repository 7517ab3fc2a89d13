import { EventEmitter } from 'node:events';
import { Client } from 'pg';

/** How many heartbeat intervals an answer may take before the connection counts as lost. */
const HEARTBEAT_GRACE = 3;

/** The connection's `application_name`, so operators (and tests) can find it in pg_stat_activity. */
export const LISTENER_APPLICATION_NAME = 'npm-gatekeeper listener';

/**
 * A dedicated connection that LISTENs on one channel and reconnects when it drops.
 * Events: `connected` (after LISTEN succeeded, including reconnects), `disconnected`,
 * `notification` (payload string).
 *
 * Notifications sent while it was not listening are lost: whoever uses the channel must
 * treat `connected` as "anything may have changed" (PolicyCache reloads).
 */

export class ChannelListener extends EventEmitter {
  private client: Client | undefined;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private _connected = false;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly url: string,
    private readonly channel: string,
    private readonly retryMs = 250,
    private readonly heartbeatMs = 2000,
  ) {
    super();
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
    client.on('notification', (msg) => {
      if (msg.channel === this.channel) this.emit('notification', msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
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

  /** A silent network failure would otherwise leave us "connected" to nothing for minutes. */
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
      // gone. Silent network failures are detected within HEARTBEAT_GRACE intervals.
      const timeout = setTimeout(() => {
        if (!answered) this.onLost(client);
      }, this.heartbeatMs * HEARTBEAT_GRACE);
      client.query('select 1').then(
        () => {
          answered = true;
          inFlight = false;
          clearTimeout(timeout);
        },
        () => {
          answered = true;
          inFlight = false;
          clearTimeout(timeout);
          this.onLost(client);
        },
      );
    }, this.heartbeatMs);
    this.heartbeat.unref();
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
