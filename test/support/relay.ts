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
  const pass = (to: net.Socket, chunk: Buffer, answer: boolean) => {
    if (frozen) return;
    if (delayMs > 0 && (answer || !answersOnly)) setTimeout(() => to.destroyed || to.write(chunk), delayMs);
    else to.write(chunk);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
    }
    client.on('data', (chunk) => pass(upstream, chunk, false));
    upstream.on('data', (chunk) => pass(client, chunk, true));
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
