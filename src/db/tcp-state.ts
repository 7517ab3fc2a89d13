import { promises as fs } from 'node:fs';
import net from 'node:net';

/**
 * How many bytes written to a TCP connection the peer's kernel has not acknowledged yet, from
 * Linux's /proc/net/tcp and tcp6 (the `tx_queue` of an established socket is `write_seq -
 * snd_una`). Undefined where that cannot be read: another platform, a closed socket, or a
 * socket the tables do not list.
 *
 * It tells a dead link from a slow peer without asking the peer's process anything: a kernel
 * acknowledges what arrives whether or not its process is scheduled, so bytes acknowledged
 * and unanswered mean a busy server; bytes unacknowledged for seconds mean no path to it.
 * Read only when an answer is overdue (the tables list every socket of the machine).
 */
export async function unacknowledgedBytes(socket: net.Socket): Promise<number | undefined> {
  const { localAddress, localPort, remoteAddress, remotePort } = socket;
  if (process.platform !== 'linux' || !localAddress || !remoteAddress || !localPort || !remotePort) return undefined;
  const local = procAddress(localAddress, localPort);
  const remote = procAddress(remoteAddress, remotePort);
  if (!local || !remote) return undefined;
  const table = local.length > 13 ? '/proc/net/tcp6' : '/proc/net/tcp';
  let text: string;
  try {
    text = await fs.readFile(table, 'latin1');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    // sl local_address rem_address st tx_queue:rx_queue ...
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== local || fields[2] !== remote || fields[3] !== ESTABLISHED) continue;
    const tx = Number.parseInt(fields[4]?.split(':')[0] ?? '', 16);
    return Number.isFinite(tx) ? tx : undefined;
  }
  return undefined;
}

const ESTABLISHED = '01';

/**
 * An address and port as the kernel prints them: the address's 32-bit words in host (little-
 * endian) byte order, in hex, then the port in hex. IPv4 in /proc/net/tcp (8 digits), IPv6
 * in tcp6 (32 digits). Undefined for what is not an IP address, or on a big-endian machine.
 */
export function procAddress(address: string, port: number): string | undefined {
  if (BIG_ENDIAN) return undefined;
  let bytes: number[] | undefined;
  if (net.isIPv4(address)) bytes = address.split('.').map(Number);
  else if (net.isIPv6(address)) bytes = ipv6Bytes(address);
  if (!bytes) return undefined;
  let hex = '';
  for (let word = 0; word < bytes.length; word += 4) {
    for (let i = 3; i >= 0; i--) hex += (bytes[word + i] as number).toString(16).padStart(2, '0');
  }
  return `${hex.toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

const BIG_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 0;

/** The 16 bytes of an IPv6 address (`::` expanded, an embedded IPv4 tail included). */
function ipv6Bytes(address: string): number[] | undefined {
  let text = address.split('%')[0] as string;
  const tail: number[] = [];
  const v4 = text.match(/:(\d+\.\d+\.\d+\.\d+)$/);
  if (v4) {
    tail.push(...(v4[1] as string).split('.').map(Number));
    text = `${text.slice(0, -(v4[1] as string).length)}0:0`;
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const words = (s: string) => (s === '' ? [] : s.split(':').map((w) => Number.parseInt(w, 16)));
  const first = words(head);
  const last = rest === undefined ? [] : words(rest);
  const fill = rest === undefined ? 0 : 8 - first.length - last.length;
  const all = [...first, ...new Array<number>(Math.max(0, fill)).fill(0), ...last];
  if (all.length !== 8 || all.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) return undefined;
  const bytes = all.flatMap((w) => [w >> 8, w & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}
