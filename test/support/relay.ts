import net from 'node:net';

/**
 * A TCP relay to PostgreSQL that can stop passing bytes without closing (a silent network
 * failure), or pass them late: both ways (a slow network or database), or only the answers (a
 * database process slow to answer: its kernel, here the relay's, acknowledges the bytes).
 */
export async function relayTo(target: URL): Promise<{ url: string; freeze(): void; thaw(): void; cut(): void; delay(ms: number, direction?: 'both' | 'answers'): void; close(): Promise<void> }> {
  let frozen = false;
  let delayMs = 0;
  let answersOnly = false;
  const sockets = new Set<net.Socket>();
  /**
   * One direction of one connection: chunks leave in the order they came, each no sooner than
   * its delay allows. A chunk never overtakes an earlier one (a delay lowered to 0 while chunks
   * wait would otherwise reorder the stream and corrupt the protocol).
   */
  const lane = (to: net.Socket, answer: boolean) => {
    const queue: Array<{ at: number; chunk: Buffer }> = [];
    let timer: NodeJS.Timeout | undefined;
    const pump = () => {
      timer = undefined;
      while (queue.length > 0 && queue[0].at <= Date.now()) {
        const { chunk } = queue.shift()!;
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) timer = setTimeout(pump, queue[0].at - Date.now());
    };
    return (chunk: Buffer) => {
      if (frozen) return;
      const wait = delayMs > 0 && (answer || !answersOnly) ? delayMs : 0;
      queue.push({ at: Math.max(Date.now() + wait, queue.length > 0 ? queue[queue.length - 1].at : 0), chunk });
      if (!timer) pump();
    };
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('data', lane(upstream, false));
    upstream.on('data', lane(client, true));
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
    /** Passes bytes again; those sent while frozen are gone, so the connections open then fail. */
    thaw: () => (frozen = false),
    /** Closes every connection made so far (they fail at once) and passes bytes again: new connections work. */
    cut: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
      frozen = false;
    },
    delay: (ms, direction = 'both') => {
      delayMs = ms;
      answersOnly = direction === 'answers';
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
