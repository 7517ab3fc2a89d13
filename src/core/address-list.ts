import { BlockList, isIP } from 'node:net';

/**
 * A list of IP addresses and CIDR subnets (`127.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`), and
 * whether an address is in it. An IPv4 address a dual-stack socket reports as `::ffff:a.b.c.d`
 * is matched as the IPv4 address it is.
 */
export interface AddressList {
  readonly entries: readonly string[];
  has(address: string | null | undefined): boolean;
}

/** Why an entry is not an address or a subnet; undefined when it is one. */
export function addressEntryProblem(entry: string): string | undefined {
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (!family) return `'${entry.slice(0, 100)}' is not an IP address`;
  if (rest.length > 0) return `'${entry.slice(0, 100)}' has more than one '/'`;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128))) {
    return `'${entry.slice(0, 100)}' has a prefix length that is not 0 to ${family === 4 ? 32 : 128}`;
  }
  return undefined;
}

const MAPPED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** Throws on an entry that is not an address or a subnet (check with addressEntryProblem first). */
export function compileAddressList(entries: readonly string[]): AddressList {
  const list = new BlockList();
  for (const entry of entries) {
    const problem = addressEntryProblem(entry);
    if (problem) throw new Error(problem);
    const [address, prefix] = entry.split('/');
    const type = isIP(address) === 4 ? 'ipv4' : 'ipv6';
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return {
    entries: [...entries],
    has(raw) {
      if (!raw || entries.length === 0) return false;
      const mapped = MAPPED.exec(raw);
      const address = mapped ? mapped[1] : raw;
      const family = isIP(address);
      if (!family) return false;
      return list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
