/**
 * Adapts our Resolver (answers as values, src/dns/resolver.ts) to the resolver mailauth's SPF code calls:
 * `(name, type) => Promise<records>` in the shape of node:dns/promises `resolve()`, failing with an Error
 * whose `code` is what c-ares would give. SPF reads ENOTFOUND/ENODATA as a void lookup (RFC 7208
 * §4.6.4) and ETIMEOUT as temperror; any other code also ends in temperror (RFC 7208 §2.6.6).
 * The types SPF, DKIM, DMARC and ARC ask for: TXT, A, AAAA, MX, PTR, CNAME (RFC 7208 §5; DKIM keys and DMARC
 * records are TXT, RFC 6376 §3.6.2.2, RFC 7489 §6.1). No SPF (type 99) queries: RFC 7208 §3.1.
 */

import { isIP } from 'node:net';
import type { DnsAnswer, MxRecord, Resolver } from '../dns/resolver.ts';

export type MailauthResolver = (name: string, type: string) => Promise<unknown[]>;

/** An Error carrying a node:dns style `code`, which is all mailauth inspects. */
export class DnsLookupError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export function mailauthResolver(resolver: Resolver): MailauthResolver {
  return async (name, type) => {
    switch (type.toUpperCase()) {
      // Our Resolver joins each record's strings (RFC 7208 §3.3); node gives them as chunks, and mailauth
      // joins them again (`row.join('')`), so one chunk per record is equivalent.
      case 'TXT':
        return records(await resolver.txt(name), 'TXT', name).map((text) => [text]);
      case 'A':
        return records(await resolver.a(name), 'A', name);
      case 'AAAA':
        return records(await resolver.aaaa(name), 'AAAA', name);
      case 'MX':
        return records<MxRecord>(await resolver.mx(name), 'MX', name).map((mx) => ({
          exchange: mx.exchange,
          priority: mx.priority,
        }));
      // DMARC's domain existence test for np= asks for CNAME after an NXDOMAIN (RFC 9989 §4.10.1).
      case 'CNAME':
        return records(await resolver.cname(name), 'CNAME', name);
      case 'PTR': {
        // mailauth asks for the arpa name; our Resolver takes the address (RFC 7208 §5.5).
        const address = addressFromReverseName(name);
        if (address === undefined) throw new DnsLookupError('EBADNAME', `not a reverse name: ${name}`);
        return records(await resolver.ptr(address), 'PTR', name);
      }
      default:
        throw new DnsLookupError('ENOTIMP', `sender authentication does not look up ${type} records`);
    }
  };
}

function records<T>(answer: DnsAnswer<T>, type: string, name: string): T[] {
  if (answer.ok) return answer.records;
  switch (answer.error) {
    case 'nxdomain':
      return fail('ENOTFOUND', `${type} ${name}: NXDOMAIN`);
    case 'nodata':
      return fail('ENODATA', `${type} ${name}: no records`);
    case 'temperror':
      // The resolver, as c-ares did, refuses to send some names (a label over 63 octets, RFC 1035 §2.3.4; '%', ':' or a space).
      // No such name can hold records, so it is a void lookup, not a temporary failure (RFC 7208 §4.6.4).
      if (answer.reason.startsWith('EBADNAME')) return fail('ENOTFOUND', answer.reason);
      // a timeout is ETIMEOUT, which mailauth names; anything else is ESERVFAIL (both temperror)
      return fail(/timeout/i.test(answer.reason) ? 'ETIMEOUT' : 'ESERVFAIL', answer.reason);
    default:
      return answer satisfies never;
  }
}

function fail(code: string, message: string): never {
  throw new DnsLookupError(code, message);
}

/** `4.3.2.1.in-addr.arpa` → `1.2.3.4`; 32 nibbles under `ip6.arpa` → an IPv6 address (RFC 3596 §2.5). */
export function addressFromReverseName(name: string): string | undefined {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower.endsWith('.in-addr.arpa')) {
    const address = lower.slice(0, -'.in-addr.arpa'.length).split('.').reverse().join('.');
    return isIP(address) === 4 ? address : undefined;
  }
  if (lower.endsWith('.ip6.arpa')) {
    const nibbles = lower.slice(0, -'.ip6.arpa'.length).split('.').reverse();
    if (nibbles.length !== 32 || !nibbles.every((n) => /^[0-9a-f]$/.test(n))) return undefined;
    const groups = [];
    for (let i = 0; i < 32; i += 4) groups.push(nibbles.slice(i, i + 4).join(''));
    return groups.join(':');
  }
  return undefined;
}
