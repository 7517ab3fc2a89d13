/**
 * The LISTEN connection's heartbeat on a real PostgreSQL connection: a link that answers
 * nothing is lost within a few intervals, and an event loop busy with other work (a large
 * lockfile check) is not a lost link, however long its turns. A false loss refuses every
 * install with EPOLICYUNAVAILABLE.
 */
import net from 'node:net';
import { Client } from 'pg';
import { ChannelListener } from '../../src/db/listener';
import { POLICY_CHANNEL } from '../../src/db/repositories/policy';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';

/** Busy for `ms` without yielding, as synchronous work on a request is. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
}

/**
 * A TCP relay to PostgreSQL that can stop passing bytes without closing (a silent network
 * failure), or pass them late (a database slow to answer).
 */
async function relayTo(target: URL): Promise<{ url: string; freeze(): void; delay(ms: number): void; close(): Promise<void> }> {
  let frozen = false;
  let delayMs = 0;
  const sockets = new Set<net.Socket>();
  const pass = (to: net.Socket, chunk: Buffer) => {
    if (frozen) return;
    if (delayMs > 0) setTimeout(() => to.destroyed || to.write(chunk), delayMs);
    else to.write(chunk);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('data', (chunk) => pass(upstream, chunk));
    upstream.on('data', (chunk) => pass(client, chunk));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(target.href);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.href,
    freeze: () => (frozen = true),
    delay: (ms) => (delayMs = ms),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `select 1` on a connection of its own, as the pool's probe. */
function probeOver(url: string): { probe: () => Promise<unknown>; asked: number; answered: number; end(): Promise<void> } {
  const client = new Client({ connectionString: url });
  const connected = client.connect();
  const counts = {
    asked: 0,
    answered: 0,
    probe: async () => {
      counts.asked++;
      await connected;
      const result = await client.query('select 1');
      counts.answered++;
      return result;
    },
    end: () => client.end().catch(() => undefined),
  };
  return counts;
}

describe('the LISTEN connection heartbeat', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('does not count an event loop busy for longer than its grace as a lost connection', async () => {
    // Heartbeats every 100 ms, an answer due within 300 ms.
    const listener = new ChannelListener(db.url, POLICY_CHANNEL, 50, 100);
    const lost: number[] = [];
    listener.on('disconnected', () => lost.push(Date.now()));
    await listener.start();
    try {
      // Turns of 400 ms of synchronous work, one after another, for 3 s: a heartbeat's answer
      // arrives during a turn and is read only after the next turn's timers have run.
      await new Promise<void>((resolve) => {
        const end = Date.now() + 3000;
        const turn = () => {
          busy(400);
          if (Date.now() < end) setImmediate(turn);
          else resolve();
        };
        setImmediate(turn);
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(lost).toEqual([]);
      expect(listener.connected).toBe(true);
    } finally {
      await listener.close();
    }
  });

  /**
   * A listener (heartbeat every 100 ms: grace 300 ms, busy cap 1,500 ms) through a relay, its
   * probe on a connection of its own, direct or through the same relay; closed after `body`.
   */
  async function throughRelay(
    probeVia: 'direct' | 'relay',
    body: (relay: Awaited<ReturnType<typeof relayTo>>, listener: ChannelListener, lost: number[], probe: ReturnType<typeof probeOver>) => Promise<void>,
  ) {
    const relay = await relayTo(new URL(db.url));
    const probe = probeOver(probeVia === 'direct' ? db.url : relay.url);
    const listener = new ChannelListener(relay.url, POLICY_CHANNEL, 60_000, 100, probe.probe);
    const lost: number[] = [];
    listener.on('disconnected', () => lost.push(Date.now()));
    await listener.start();
    await probe.probe();
    try {
      expect(listener.connected).toBe(true);
      await body(relay, listener, lost, probe);
    } finally {
      relay.delay(0);
      await listener.close();
      await probe.end();
      await relay.close();
    }
  }

  it('counts a link that answers nothing as lost within a few intervals while the database answers another connection', async () => {
    await throughRelay('direct', async (relay, listener, lost, probe) => {
      const answeredBefore = probe.answered;
      relay.freeze();
      await eventually(async () => !listener.connected, 'the silent link to count as lost', 5000);
      // Found by the probe's answer after the grace, not by the busy database's cap.
      expect(lost).toHaveLength(1);
      expect(probe.answered).toBeGreaterThan(answeredBefore);
    });
  });

  it('does not count a database slow to answer everyone as a lost connection', async () => {
    await throughRelay('relay', async (relay, listener, lost, probe) => {
      // Every round trip takes 800 ms: past the heartbeat's grace (300 ms), within the busy cap (1,500 ms).
      const askedBefore = probe.asked;
      relay.delay(400);
      await new Promise((r) => setTimeout(r, 3000));
      expect(lost).toEqual([]);
      expect(listener.connected).toBe(true);
      // The heartbeats went past their grace, and the probe was asked.
      expect(probe.asked).toBeGreaterThan(askedBefore);
    });
  });

  it('counts a link as lost after the busy cap when neither it nor the probe answers', async () => {
    await throughRelay('relay', async (relay, listener, lost, probe) => {
      const answeredBefore = probe.answered;
      relay.freeze();
      await eventually(async () => !listener.connected, 'the silent link to count as lost', 5000);
      // The probe was asked and never answered: the cap decided.
      expect(lost).toHaveLength(1);
      expect(probe.asked).toBeGreaterThan(answeredBefore);
      expect(probe.answered).toBe(answeredBefore);
    });
  });
});
