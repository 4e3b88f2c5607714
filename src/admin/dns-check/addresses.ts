/**
 * A name's addresses as `postern dns check` reads them: A and AAAA together, one spelling per
 * address. A leaf: the check context, the HTTPS fetch and the areas all use it.
 */

import { isIP } from 'node:net';
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
  const addresses = [...(a.ok ? a.records : []), ...(aaaa.ok ? aaaa.records : [])].map(canonicalIp);
  return addresses.length > 0 ? { ok: true, addresses } : { ok: false, error: 'none' };
}

/** One spelling per address, so 2001:DB8::1 and 2001:db8:0::1 compare equal. */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}
