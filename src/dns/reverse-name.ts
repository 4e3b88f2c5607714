/**
 * The reverse-lookup owner name of an IP address: `in-addr.arpa` for IPv4 (RFC 1035 §3.5) and the
 * nibble form under `ip6.arpa` for IPv6 (RFC 3596 §2.5). Pure; knows nothing about sending queries.
 */

import { isIPv4, isIPv6 } from 'node:net';
import { ipv6Groups } from './ip.ts';

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
  const zone = address.indexOf('%');
  const text = zone >= 0 ? address.slice(0, zone) : address; // a scope id is local, never part of the DNS name
  return ipv6Groups(text)
    .map((group) => group.toString(16).padStart(4, '0'))
    .join('');
}
