/**
 * The client's hostname from DNS, as Postfix checks it: reject_unknown_reverse_client_hostname wants
 * a PTR record at all; reject_unknown_client_hostname wants forward-confirmed reverse DNS (a PTR name
 * whose A/AAAA records give back the client's address). Both answer 5.7.25, the code RFC 7372 §3.3
 * gives for "the reverse DNS check failed". A DNS failure defers (4.7.25): a timeout is no answer.
 * Not done: checking that the PTR name is the HELO name (Postfix does not either).
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import { reply } from '../../smtp/replies.ts';
import { DUNNO, type PolicyContext, type Restriction, type RuleFactory } from '../restriction.ts';
import { noArguments } from './define.ts';
import { lenientHostname } from './domains.ts';

/** What DNS says about the client's name; shared through `ctx.memo` by every rule and the Received header. */
export interface ClientHostname {
  /** A PTR name that resolves back to the client's address, when one does. */
  name?: string;
  /** No name was confirmed and some lookup on the way failed temporarily: the answer may change. */
  temporary: boolean;
  /** The PTR names found; 'none' when there is no PTR record, 'temperror' when its lookup failed. */
  reverse: readonly string[] | 'none' | 'temperror';
  /** What was found, in plain words, for logs. */
  reason: string;
}

const MEMO_KEY = 'client.hostname';
/** Forward lookups per client at most, as RFC 7208 §5.5 bounds the PTR names it checks. */
const MAX_PTR_NAMES = 10;

/** What the lookup needs of a policy context: the Received header asks with no more than this. */
export type HostnameContext = Pick<PolicyContext, 'clientAddress' | 'resolver' | 'memo'>;

/** The client's forward-confirmed hostname, looked up once per session. */
export function verifiedClientHostname(ctx: HostnameContext): Promise<ClientHostname> {
  const known = ctx.memo.get(MEMO_KEY) as Promise<ClientHostname> | undefined;
  if (known) return known;
  const pending = lookUpHostname(ctx); // the promise is kept, so concurrent rules share one lookup
  ctx.memo.set(MEMO_KEY, pending);
  return pending;
}

async function lookUpHostname(ctx: HostnameContext): Promise<ClientHostname> {
  const ip = ctx.clientAddress;
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
  if (family === undefined) return { temporary: false, reverse: 'none', reason: `${ip} is not an IP address` };
  const ptr = await ctx.resolver.ptr(ip);
  if (!ptr.ok && ptr.error === 'temperror') {
    return { temporary: true, reverse: 'temperror', reason: `PTR lookup of ${ip} failed: ${ptr.reason}` };
  }
  if (!ptr.ok) return { temporary: false, reverse: 'none', reason: `${ip} has no PTR record (${ptr.error})` };

  const names = [...new Set(ptr.records.map((name) => name.replace(/\.$/, '').toLowerCase()))];
  // A host name (RFC 1123 §2.1) read as Postfix's valid_hostname() reads it, "_" taken as a letter
  // (DNS holds it, RFC 2181 §11: mail_out.example.net), as the HELO rules read one; an all-numeric
  // last label is an address, not a name (RFC 3696 §2).
  const candidates = names.filter((name) => lenientHostname(name) !== undefined);
  const wanted = canonicalAddress(ip);
  const failures: string[] = [];
  let temporary = false;
  for (const name of candidates.slice(0, MAX_PTR_NAMES)) {
    // The client's own family: an IPv4 client is confirmed by an A record, an IPv6 one by AAAA.
    const forward = family === 'ipv4' ? await ctx.resolver.a(name) : await ctx.resolver.aaaa(name);
    if (forward.ok && forward.records.some((address) => canonicalAddress(address) === wanted)) {
      return {
        name,
        temporary: false,
        reverse: names,
        reason: `PTR of ${ip} is ${name} and ${name} has address ${ip}`,
      };
    }
    if (!forward.ok && forward.error === 'temperror') {
      temporary = true;
      failures.push(`the address lookup of ${name} failed (${forward.reason})`);
    } else {
      failures.push(`${name} has no address ${ip}`);
    }
  }
  if (candidates.length === 0) failures.push('none is a valid hostname');
  return { temporary, reverse: names, reason: `PTR of ${ip} is ${names.join(', ')} but ${failures.join('; ')}` };
}

/** One spelling per address, so `2001:DB8:0::1` equals `2001:db8::1` (RFC 5952 §4); undefined if not an address. */
export function canonicalAddress(address: string): string | undefined {
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  return family && new SocketAddress({ address, family }).address;
}

export const clientRules: Record<string, RuleFactory> = {
  reject_unknown_reverse_client_hostname: (spec): Restriction => {
    const name = 'reject_unknown_reverse_client_hostname';
    noArguments(name, spec);
    return {
      name,
      label: name,
      async evaluate(ctx) {
        const host = await verifiedClientHostname(ctx);
        const text = `Client host rejected: cannot find your reverse hostname, [${ctx.clientAddress}]`;
        if (host.reverse === 'temperror') {
          return { action: 'reject', reply: reply(450, '4.7.25', text), reason: host.reason };
        }
        if (host.reverse !== 'none') return DUNNO;
        return { action: 'reject', reply: reply(550, '5.7.25', text), reason: host.reason }; // RFC 7372 §3.3
      },
    };
  },

  reject_unknown_client_hostname: (spec): Restriction => {
    const name = 'reject_unknown_client_hostname';
    noArguments(name, spec);
    return {
      name,
      label: name,
      async evaluate(ctx) {
        const host = await verifiedClientHostname(ctx);
        if (host.name !== undefined) return DUNNO;
        const text = `Client host rejected: cannot find your hostname, [${ctx.clientAddress}]`;
        // A name that a timeout kept us from confirming may confirm on retry: defer, never reject for it.
        if (host.temporary) return { action: 'reject', reply: reply(450, '4.7.25', text), reason: host.reason };
        return { action: 'reject', reply: reply(550, '5.7.25', text), reason: host.reason }; // RFC 7372 §3.3
      },
    };
  },
};
