/**
 * The reverse-lookup owner name of an IP address: `in-addr.arpa` for IPv4 (RFC 1035 §3.5) and the
 * nibble form under `ip6.arpa` for IPv6 (RFC 3596 §2.5). Pure; knows nothing about sending queries.
 */

import { isIPv4, isIPv6 } from 'node:net';

/** `192.0.2.7` → `7.2.0.192.in-addr.arpa`; `2001:db8::1` → `1.0.0.…8.b.d.0.1.0.0.2.ip6.arpa`. */
export function reverseName(address: string): string {
  if (isIPv4(address)) return address.split('.').reverse().join('.') + '.in-addr.arpa'; // RFC 1035 §3.5
  if (isIPv6(address)) {
    // RFC 3596 §2.5: every nibble of the full 128-bit address, least significant first.
    const nibbles = expandIpv6(address).split('').reverse();
    return nibbles.join('.') + '.ip6.arpa';
  }
  // A caller bug (the interface takes an address, not a name), so an exception rather than a DnsAnswer.
  throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
}

/** The 32 hex digits of an IPv6 address, expanding `::` and a dotted-quad tail (RFC 4291 §2.2). */
function expandIpv6(address: string): string {
  let text = address.toLowerCase();
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone); // a scope id is local, never part of the DNS name
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // RFC 4291 §2.2 form 3: the low 32 bits written as IPv4, e.g. ::ffff:192.0.2.1.
    const octets = tail.split('.').map((o) => Number(o));
    const hex = (hi: number, lo: number): string => ((hi << 8) | lo).toString(16);
    text = `${text.slice(0, lastColon + 1)}${hex(octets[0]!, octets[1]!)}:${hex(octets[2]!, octets[3]!)}`;
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? [] : Array(8 - headGroups.length - restGroups.length).fill('0');
  return [...headGroups, ...zeros, ...restGroups].map((g) => g.padStart(4, '0')).join('');
}
