/**
 * IP addresses and CIDR networks (RFC 4632 §3.1 for IPv4, RFC 4291 §2.3 for IPv6) as Postfix writes
 * them in mynetworks and cidr_table(5): `192.0.2.0/24`, `2001:db8::/32`, `[2001:db8::]/32`, a bare
 * address for one host. Parsed once into bigints, so a membership test is a mask and a compare.
 *
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, RFC 4291 §2.5.5.2) is the IPv4 host behind a
 * dual-stack socket, so it is read as that IPv4 address and matches IPv4 networks, as Postfix's
 * smtpd does when it strips the `::ffff:` prefix. Host names and `/file/name` entries of Postfix's
 * mynetworks are not supported; a zone (`fe80::1%eth0`) is refused.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv6Groups, ipv4Octets, ipv6Groups } from '../dns/ip.ts';
import type { NetworkList } from './restriction.ts';

export type IpVersion = 4 | 6;

/** An address as a number: 32 bits for IPv4, 128 for IPv6. */
export interface IpAddress {
  version: IpVersion;
  value: bigint;
}

const BITS: Record<IpVersion, number> = { 4: 32, 6: 128 };
const MAPPED_PREFIX = 0xffffn; // ::ffff:0:0/96, RFC 4291 §2.5.5.2

/** Parses an IPv4 or IPv6 address; an IPv4-mapped IPv6 address comes back as IPv4. Undefined if not an address. */
export function parseAddress(text: string): IpAddress | undefined {
  if (isIPv4(text)) return { version: 4, value: BigInt(ipv4Number(text)) };
  if (!isIPv6(text) || text.includes('%')) return undefined;
  return unmap(ipv6Value(text));
}

/** 4 or 6 for an address (4 for an IPv4-mapped IPv6 address, as it is matched), undefined if not one. */
export function ipVersion(address: string): IpVersion | undefined {
  return parseAddress(address)?.version;
}

/**
 * The unit a client is counted by in rate limits: an IPv4 address, or an IPv6 network of
 * `ipv6Prefix` bits (config limits.ipv6Prefix), by default the /64 one host is routinely given (RFC
 * 6177 §2) and can pick any address in. A text that is not an address is its own key (lower-cased).
 */
export function clientKey(address: string, ipv6Prefix = 64): string {
  // node:net's isIPv4 takes the dotted-decimal form without leading zeros only: its own canonical form.
  if (isIPv4(address)) return address;
  const ip = parseAddress(address);
  if (ip === undefined) return address.toLowerCase();
  if (ip.version === 4) return formatIpv4(ip.value);
  const host = BigInt(128 - ipv6Prefix);
  return `${formatIpv6((ip.value >> host) << host)}/${ipv6Prefix}`;
}

/** One CIDR network; an address is in it when its first `prefix` bits equal the network's. */
export class Network {
  readonly version: IpVersion;
  readonly prefix: number;
  /** The network address (host bits zero). */
  readonly base: bigint;
  readonly mask: bigint;

  constructor(version: IpVersion, base: bigint, prefix: number) {
    this.version = version;
    this.prefix = prefix;
    this.mask = prefixMask(version, prefix);
    this.base = base;
  }

  matches(ip: IpAddress): boolean {
    return ip.version === this.version && (ip.value & this.mask) === this.base;
  }

  contains(address: string): boolean {
    const ip = parseAddress(address);
    return ip !== undefined && this.matches(ip);
  }

  toString(): string {
    return `${this.version === 4 ? formatIpv4(this.base) : `[${formatIpv6(this.base)}]`}/${this.prefix}`;
  }
}

/** A parsed network list; `contains` parses the address once and tests each network. */
export class Networks implements NetworkList {
  readonly networks: readonly Network[];

  constructor(networks: readonly Network[]) {
    this.networks = networks;
  }

  contains(address: string): boolean {
    if (this.networks.length === 0) return false; // the common empty mynetworks: no address to parse
    const ip = parseAddress(address);
    if (ip === undefined) return false;
    for (const network of this.networks) if (network.matches(ip)) return true;
    return false;
  }
}

/** Parses a list of networks; throws an Error naming the first bad entry. */
export function parseNetworks(entries: readonly string[]): Networks {
  return new Networks(entries.map(parseNetwork));
}

/**
 * Parses `address`, `address/prefix` or `[ipv6]/prefix`. Host bits set below the prefix are an
 * error, as in Postfix's cidr_match.c ("non-null host address bits"): `192.0.2.1/24` is most likely
 * a typo, and silently widening or narrowing it would change who is trusted.
 */
export function parseNetwork(entry: string): Network {
  const text = entry.trim();
  const slash = text.indexOf('/');
  let host = slash < 0 ? text : text.slice(0, slash);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  let version: IpVersion;
  let value: bigint;
  if (isIPv4(host)) {
    version = 4;
    value = BigInt(ipv4Number(host));
  } else if (isIPv6(host) && !host.includes('%')) {
    version = 6;
    value = ipv6Value(host);
  } else {
    throw new Error(`"${entry}" is not an IP address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32)`);
  }
  let prefix = BITS[version];
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    prefix = /^\d{1,3}$/.test(digits) ? Number(digits) : Number.NaN;
    if (!(prefix <= BITS[version])) {
      throw new Error(`"${entry}": the prefix length must be 0 to ${BITS[version]}`);
    }
  }
  // A network inside ::ffff:0:0/96 holds only IPv4-mapped addresses, which are matched as IPv4.
  if (version === 6 && prefix >= 96 && value >> 32n === MAPPED_PREFIX) {
    version = 4;
    value &= 0xffffffffn;
    prefix -= 96;
  }
  const network = new Network(version, value & prefixMask(version, prefix), prefix);
  if (network.base !== value) {
    throw new Error(`"${entry}" has host bits set below /${network.prefix}; did you mean ${network}?`);
  }
  return network;
}

function prefixMask(version: IpVersion, prefix: number): bigint {
  const bits = BigInt(BITS[version]);
  const all = (1n << bits) - 1n;
  return all ^ ((1n << (bits - BigInt(prefix))) - 1n);
}

function unmap(value: bigint): IpAddress {
  return value >> 32n === MAPPED_PREFIX ? { version: 4, value: value & 0xffffffffn } : { version: 6, value };
}

/** A dotted quad already validated by isIPv4 (which refuses leading zeros and octets over 255). */
function ipv4Number(text: string): number {
  return ipv4Octets(text).reduce((n, octet) => n * 256 + octet, 0);
}

/** An IPv6 address already validated by isIPv6, with `::` and a dotted IPv4 tail (RFC 4291 §2.2). */
function ipv6Value(text: string): bigint {
  return ipv6Groups(text).reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => ((value >> shift) & 0xffn).toString()).join('.');
}

/** RFC 5952 §4 text form: lower case, the longest run of two or more zero groups as `::`. */
export function formatIpv6(value: bigint): string {
  return formatIpv6Groups([112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => Number((value >> shift) & 0xffffn)));
}

/** Formats an address in its usual text form (IPv4 dotted, IPv6 per RFC 5952). */
export function formatAddress(ip: IpAddress): string {
  return ip.version === 4 ? formatIpv4(ip.value) : formatIpv6(ip.value);
}
