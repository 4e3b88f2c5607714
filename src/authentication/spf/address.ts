/**
 * IP addresses for SPF: the client address as bytes, CIDR matching for ip4/ip6/a/mx (RFC 7208 §5.6) and
 * the forms the macros need (§7.3: "i" dotted or as nibbles, "c" readable, "v" in-addr or ip6).
 * An IPv4-mapped IPv6 client address (::ffff:a.b.c.d) is checked as the IPv4 address it carries, as the
 * OpenSPF suite's "*-ip4mapped" cases expect (RFC 4291 §2.5.5.2 defines the mapping).
 */

import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv6Groups, ipv6Groups } from '../../dns/ip.ts';

export interface ClientAddress {
  family: 4 | 6;
  bytes: Uint8Array;
  /** The address as text, %{c} (§7.3). */
  text: string;
}

export function parseClientAddress(ip: string): ClientAddress | undefined {
  const v4 = parseIp4(ip);
  if (v4 !== undefined) return { family: 4, bytes: v4, text: ip };
  const v6 = parseIp6(ip);
  if (v6 === undefined) return undefined;
  const mapped = v6.subarray(0, 12).every((b, i) => b === (i < 10 ? 0 : 0xff));
  if (mapped) {
    const bytes = v6.slice(12);
    return { family: 4, bytes, text: bytes.join('.') };
  }
  return { family: 6, bytes: v6, text: formatIp6(v6) };
}

/** §12 ip4-network: dotted quad, no leading zeros (qnum). */
export function parseIp4(text: string): Uint8Array | undefined {
  if (!isIPv4(text)) return undefined;
  const parts = text.split('.');
  if (parts.some((p) => p.length > 1 && p[0] === '0')) return undefined;
  return Uint8Array.from(parts, Number);
}

/** RFC 4291 §2.2 text forms, including a trailing dotted quad (itself a qnum quad, §12). */
export function parseIp6(text: string): Uint8Array | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null && parseIp4(dotted[1] as string) === undefined) return undefined;
  const bytes = new Uint8Array(16);
  ipv6Groups(text).forEach((group, i) => {
    bytes[i * 2] = group >> 8;
    bytes[i * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function formatIp6(bytes: Uint8Array): string {
  return formatIpv6Groups(
    Array.from({ length: 8 }, (_, i) => ((bytes[i * 2] as number) << 8) | (bytes[i * 2 + 1] as number)),
  );
}

/** §5.6: the first `prefix` bits of both addresses are equal. */
export function inNetwork(address: Uint8Array, network: Uint8Array, prefix: number): boolean {
  if (address.length !== network.length) return false;
  let bits = prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if (((address[i] as number) & mask) !== ((network[i] as number) & mask)) return false;
  }
  return true;
}

/** §7.3 "i": dotted quad, or 32 dot-separated lower-case nibbles (§7.4's example) for IPv6. */
export function macroIp(client: ClientAddress): string {
  if (client.family === 4) return client.text;
  const nibbles: string[] = [];
  for (const b of client.bytes) nibbles.push((b >> 4).toString(16), (b & 15).toString(16));
  return nibbles.join('.');
}
