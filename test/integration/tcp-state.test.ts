/**
 * The kernel's count of unacknowledged bytes on real TCP connections: what the LISTEN
 * heartbeat reads to tell a dead link from a database process too busy to answer.
 */
import net from 'node:net';
import os from 'node:os';
import { procAddress, unacknowledgedBytes } from '../../src/db/tcp-state';
import { eventually } from '../support/assert';

const linux = process.platform === 'linux';
const ipv6Loopback = Object.values(os.networkInterfaces()).some((list) => list?.some((a) => a.family === 'IPv6' && a.address === '::1'));

/** A server on `host` and a client connected to it; the server's side of the connection is handed to `onServerSide`. */
async function connection(host: string, onServerSide: (socket: net.Socket) => void): Promise<{ client: net.Socket; close(): Promise<void> }> {
  const peers: net.Socket[] = [];
  const server = net.createServer((socket) => {
    peers.push(socket);
    socket.on('error', () => undefined);
    onServerSide(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const client = net.connect((server.address() as net.AddressInfo).port, host);
  client.on('error', () => undefined);
  await new Promise<void>((resolve) => client.once('connect', () => resolve()));
  return {
    client,
    close: async () => {
      client.destroy();
      for (const p of peers) p.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('procAddress', () => {
  it('writes addresses and ports as /proc/net/tcp and tcp6 do (words in little-endian order)', () => {
    expect(procAddress('127.0.0.1', 5432)).toBe('0100007F:1538');
    expect(procAddress('10.1.2.3', 80)).toBe('0302010A:0050');
    expect(procAddress('::1', 443)).toBe('00000000000000000000000001000000:01BB');
    expect(procAddress('::ffff:127.0.0.1', 5432)).toBe('0000000000000000FFFF00000100007F:1538');
    expect(procAddress('fe80::1%eth0', 1)).toBe('000080FE000000000000000001000000:0001');
    expect(procAddress('2001:db8:0:0:0:0:0:2', 65535)).toBe('B80D0120000000000000000002000000:FFFF');
  });

  it('gives nothing for what is not an IP address', () => {
    expect(procAddress('localhost', 1)).toBeUndefined();
    expect(procAddress('1:2:3', 1)).toBeUndefined();
    expect(procAddress('1:2:3:4:5:6:7:8:9', 1)).toBeUndefined();
  });
});

(linux ? describe : describe.skip)('unacknowledgedBytes (Linux)', () => {
  it('is 0 once the peer has acknowledged what was written, whether or not its process read it', async () => {
    // The server's process never reads: its kernel acknowledges what arrives all the same.
    const c = await connection('127.0.0.1', (socket) => socket.pause());
    try {
      c.client.write('select 1');
      await eventually(async () => (await unacknowledgedBytes(c.client)) === 0, 'the bytes to be acknowledged');
      expect(await unacknowledgedBytes(c.client)).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('counts bytes the peer cannot take (its window is full: no path for more)', async () => {
    const c = await connection('127.0.0.1', (socket) => socket.pause());
    try {
      // More than the kernels' buffers hold: what is left sits unacknowledged in ours.
      const chunk = Buffer.alloc(1 << 20, 0x61);
      for (let i = 0; i < 64 && c.client.writableLength === 0; i++) c.client.write(chunk);
      await eventually(async () => ((await unacknowledgedBytes(c.client)) ?? 0) > 0, 'bytes to stay unacknowledged');
      expect(await unacknowledgedBytes(c.client)).toBeGreaterThan(0);
    } finally {
      await c.close();
    }
  });

  (ipv6Loopback ? it : it.skip)('reads IPv6 connections from tcp6', async () => {
    const c = await connection('::1', () => undefined);
    try {
      c.client.write('x');
      await eventually(async () => (await unacknowledgedBytes(c.client)) === 0, 'the IPv6 connection to be listed');
    } finally {
      await c.close();
    }
  });

  it('gives nothing for a closed socket', async () => {
    const c = await connection('127.0.0.1', () => undefined);
    await c.close();
    expect(await unacknowledgedBytes(c.client)).toBeUndefined();
  });
});
