/**
 * The LISTEN connection's heartbeat on a real PostgreSQL connection: a link that answers
 * nothing is lost within a few intervals, and an event loop busy with other work (a large
 * lockfile check) is not a lost link, however long its turns. A false loss refuses every
 * install with EPOLICYUNAVAILABLE.
 */
import net from 'node:net';
import { Client } from 'pg';
import { ChannelListener } from '../../src/db/listener';
import { unacknowledgedBytes } from '../../src/db/tcp-state';
import { POLICY_CHANNEL } from '../../src/db/repositories/policy';
import { eventually } from '../support/assert';
import { createTestDatabase, TestDatabase } from '../support/database';
import { relayTo } from '../support/relay';

/** Busy for `ms` without yielding, as synchronous work on a request is. */
function busy(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // spin
  }
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
    const listener = new ChannelListener(db.url, POLICY_CHANNEL, { retryMs: 50, heartbeatMs: 100 });
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
   * `tcp`: what the listener learns of its link's TCP state: the kernel's count (the real
   * reader, spied on), none (a platform where it cannot be read: the probe decides), or bytes
   * left unacknowledged (a link whose packets are lost, which a test cannot produce without
   * network tools needing root: the relay's kernel acknowledges everything).
   */
  async function throughRelay(
    options: { probeVia: 'direct' | 'relay'; tcp: 'kernel' | 'unreadable' | 'unacknowledged' },
    body: (relay: Awaited<ReturnType<typeof relayTo>>, listener: ChannelListener, lost: number[], probe: ReturnType<typeof probeOver>, read: Array<number | undefined>) => Promise<void>,
  ) {
    const relay = await relayTo(new URL(db.url));
    const probe = probeOver(options.probeVia === 'direct' ? db.url : relay.url);
    const read: Array<number | undefined> = [];
    const unacknowledged = async (socket: net.Socket) => {
      const n = options.tcp === 'kernel' ? await unacknowledgedBytes(socket) : options.tcp === 'unacknowledged' ? 14 : undefined;
      read.push(n);
      return n;
    };
    const listener = new ChannelListener(relay.url, POLICY_CHANNEL, { retryMs: 60_000, heartbeatMs: 100, probe: probe.probe, unacknowledged });
    const lost: number[] = [];
    listener.on('disconnected', () => lost.push(Date.now()));
    await listener.start();
    await probe.probe();
    try {
      expect(listener.connected).toBe(true);
      await body(relay, listener, lost, probe, read);
    } finally {
      relay.delay(0);
      await listener.close();
      await probe.end();
      await relay.close();
    }
  }

  /** Whether the listener ever closed its link (to reconnect), sampled every 20 ms and at each loss of trust. */
  function watchLink(listener: ChannelListener): { readonly closed: boolean } {
    const state = { closed: false };
    const timer = setInterval(() => {
      if (!listener.linked) state.closed = true;
    }, 20);
    timer.unref();
    listener.on('disconnected', () => {
      if (!listener.linked) state.closed = true;
    });
    return state;
  }

  /**
   * Stops the relay passing bytes; resolves once the listener has replaced its link (closed it,
   * to reconnect). Trust ended once, before that, with the link still open.
   */
  async function freezeUntilLost(relay: Awaited<ReturnType<typeof relayTo>>, listener: ChannelListener, lost: number[]): Promise<void> {
    const linkedWhenDistrusted: boolean[] = [];
    listener.on('disconnected', () => linkedWhenDistrusted.push(listener.linked));
    relay.freeze();
    await eventually(async () => !listener.linked, 'the link to count as lost', 5000);
    expect(lost).toHaveLength(1);
    expect(listener.connected).toBe(false);
    expect(linkedWhenDistrusted).toEqual([true]);
  }

  describe('on Linux, by the TCP state of its link', () => {
    (process.platform === 'linux' ? it : it.skip)('does not count a database process that answers late as a lost connection: its kernel acknowledged the heartbeat', async () => {
      // Found by ten large lockfile checks at once, the gatekeeper and its embedded database on
      // one CPU: the listener's backend waited 2 s to run while the pool's probe was answered.
      await throughRelay({ probeVia: 'direct', tcp: 'kernel' }, async (relay, listener, lost, probe, read) => {
        let slow = 0;
        listener.on('slow', () => slow++);
        const links = watchLink(listener);
        // Answers come 1,000 ms late: past the grace (300 ms), within the busy cap (1,500 ms).
        relay.delay(1000, 'answers');
        await new Promise((r) => setTimeout(r, 3000));
        // The link was kept (never closed to reconnect), but not trusted while its answers were late.
        expect(links.closed).toBe(false);
        expect(lost.length).toBeGreaterThan(0);
        relay.delay(0);
        await eventually(async () => listener.connected, 'the listener to trust its link again once it answers', 5000);
        expect(links.closed).toBe(false);
        // Each late heartbeat was reported as slow (metrics and the log count them).
        expect(slow).toBeGreaterThan(0);
        // The heartbeats went past their grace and the kernel said the bytes had arrived.
        expect(read.length).toBeGreaterThan(0);
        expect(read.every((n) => n === 0)).toBe(true);
      });
    });

    it('counts a link whose bytes stay unacknowledged as lost within a few intervals, without asking the probe', async () => {
      await throughRelay({ probeVia: 'direct', tcp: 'unacknowledged' }, async (relay, listener, lost, probe) => {
        const askedBefore = probe.asked;
        await freezeUntilLost(relay, listener, lost);
        expect(probe.asked).toBe(askedBefore);
      });
    });

    (process.platform === 'linux' ? it : it.skip)('counts a link whose peer acknowledges but never answers as lost at the busy cap', async () => {
      await throughRelay({ probeVia: 'direct', tcp: 'kernel' }, async (relay, listener, lost, probe, read) => {
        const askedBefore = probe.asked;
        await freezeUntilLost(relay, listener, lost);
        // Not at the grace (the relay's kernel acknowledged, and the probe was never asked): at the cap.
        expect(read.length).toBeGreaterThan(0);
        expect(read.every((n) => n === 0)).toBe(true);
        expect(probe.asked).toBe(askedBefore);
      });
    });
  });

  describe('where TCP state cannot be read, by the probe', () => {
    it('counts a link that answers nothing as lost within a few intervals while the database answers another connection', async () => {
      await throughRelay({ probeVia: 'direct', tcp: 'unreadable' }, async (relay, listener, lost, probe) => {
        const answeredBefore = probe.answered;
        await freezeUntilLost(relay, listener, lost);
        // Found by the probe's answer after the grace, not by the busy database's cap.
        expect(probe.answered).toBeGreaterThan(answeredBefore);
      });
    });

    it('does not count a database slow to answer everyone as a lost connection', async () => {
      await throughRelay({ probeVia: 'relay', tcp: 'unreadable' }, async (relay, listener, lost, probe) => {
        // Every round trip takes 500 ms: past the heartbeat's grace (300 ms), well within the busy cap
        // (1,500 ms), which a loaded CI machine's slower turns must not reach (with 800 ms, one CI run never trusted the link again).
        const askedBefore = probe.asked;
        const links = watchLink(listener);
        relay.delay(250);
        await new Promise((r) => setTimeout(r, 3000));
        // Kept, not trusted while late, trusted again once answering in time.
        expect(links.closed).toBe(false);
        expect(lost.length).toBeGreaterThan(0);
        relay.delay(0);
        await eventually(async () => listener.connected, 'the listener to trust its link again once it answers', 5000);
        expect(links.closed).toBe(false);
        // The heartbeats went past their grace, and the probe was asked.
        expect(probe.asked).toBeGreaterThan(askedBefore);
      });
    });

    it('counts a link as lost after the busy cap when neither it nor the probe answers', async () => {
      await throughRelay({ probeVia: 'relay', tcp: 'unreadable' }, async (relay, listener, lost, probe) => {
        const answeredBefore = probe.answered;
        await freezeUntilLost(relay, listener, lost);
        // The probe was asked and never answered: the cap decided.
        expect(probe.asked).toBeGreaterThan(answeredBefore);
        expect(probe.answered).toBe(answeredBefore);
      });
    });
  });
});
