/**
 * A name's addresses as `postern dns check` reads them: A and AAAA together, one spelling per
 * address. A leaf: the check context, the HTTPS fetch and the areas all use it.
 */

import { BlockList, isIP } from 'node:net';
import type { Resolver } from '../../dns/resolver.ts';

export type AddressAnswer =
  | { ok: true; addresses: string[] }
  | { ok: false; error: 'none' }
  | { ok: false; error: 'temperror'; reason: string };

/** A and AAAA together: a name has addresses when either has records (RFC 5321 §5.1 takes both). */
export async function lookupAddresses(resolver: Resolver, name: string): Promise<AddressAnswer> {
  const [a, aaaa] = await Promise.all([resolver.a(name), resolver.aaaa(name)]);
  for (const answer of [a, aaaa]) {
    if (!answer.ok && answer.error === 'temperror') return { ok: false, error: 'temperror', reason: answer.reason };
  }
  // Sorted, each family apart: resolvers rotate the records of a set (round robin), and a finding that
  // lists them must read the same from one check to the next (the monitor logs a finding that changes).
  const sorted = (records: string[]) => records.map(canonicalIp).sort(compareAddresses);
  const addresses = [...(a.ok ? sorted(a.records) : []), ...(aaaa.ok ? sorted(aaaa.records) : [])];
  return addresses.length > 0 ? { ok: true, addresses } : { ok: false, error: 'none' };
}

/** One spelling per address, so 2001:DB8::1 and 2001:db8:0::1 compare equal. */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * Address blocks no sender on the internet can reach (RFC 6890's registries: not "Global"), with what
 * they are. A mail host published with one of them receives only from its own network. The documentation
 * blocks (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 of RFC 5737, 2001:db8::/32 of RFC 3849) are left
 * out on purpose: tests and examples use them as stand-ins for public addresses, and no one publishes
 * them by mistake for a LAN address.
 */
const NON_GLOBAL: [network: string, prefix: number, family: 'ipv4' | 'ipv6', what: string][] = [
  ['0.0.0.0', 8, 'ipv4', '"this network" (RFC 791, RFC 6890)'],
  ['10.0.0.0', 8, 'ipv4', 'a private address (RFC 1918)'],
  ['100.64.0.0', 10, 'ipv4', 'a carrier-grade NAT address (RFC 6598)'],
  ['127.0.0.0', 8, 'ipv4', 'a loopback address (RFC 1122 §3.2.1.3)'],
  ['169.254.0.0', 16, 'ipv4', 'a link-local address (RFC 3927)'],
  ['172.16.0.0', 12, 'ipv4', 'a private address (RFC 1918)'],
  ['192.168.0.0', 16, 'ipv4', 'a private address (RFC 1918)'],
  ['::', 128, 'ipv6', 'the unspecified address (RFC 4291 §2.5.2)'],
  ['::1', 128, 'ipv6', 'the loopback address (RFC 4291 §2.5.3)'],
  ['fc00::', 7, 'ipv6', 'a unique local address (RFC 4193)'],
  ['fe80::', 10, 'ipv6', 'a link-local address (RFC 4291 §2.5.6)'],
];
const blocks = NON_GLOBAL.map(([network, prefix, family, what]) => {
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { list, family, what };
});

/** What `address` is when the internet cannot reach it (a private, loopback, link-local … address), else undefined. */
export function nonGlobal(address: string): string | undefined {
  const family = isIP(address) === 6 ? 'ipv6' : isIP(address) === 4 ? 'ipv4' : undefined;
  if (family === undefined) return undefined;
  return blocks.find((b) => b.family === family && b.list.check(address, family))?.what;
}

/** The addresses of `addresses` the internet cannot reach, each with what it is: "10.0.0.5 (a private address (RFC 1918))". */
export function unreachable(addresses: readonly string[]): string[] {
  return addresses.flatMap((address) => {
    const what = nonGlobal(address);
    return what === undefined ? [] : [`${address} (${what})`];
  });
}

/** Numeric order for IPv4 (192.0.2.9 before 192.0.2.10); text order for IPv6, enough for a stable listing. */
function compareAddresses(x: string, y: string): number {
  const four = (ip: string) => ip.split('.').map(Number);
  if (x.includes('.') && y.includes('.') && !x.includes(':') && !y.includes(':')) {
    const [p, q] = [four(x), four(y)];
    for (let i = 0; i < 4; i++) if (p[i] !== q[i]) return p[i]! - q[i]!;
    return 0;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}
