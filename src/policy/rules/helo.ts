/**
 * HELO/EHLO argument checks with Postfix's names and texts: syntax (RFC 5321 §4.1.1.1: a Domain or
 * an address literal), fully-qualified (RFC 5321 §2.3.5), known to DNS, and not claiming to be us.
 * HELO names are often wrong on honest servers too, so only the syntax check is on by default.
 * Underscores, one trailing dot and a bare IP address are taken as Postfix takes them. Not done: HELO
 * checks against SPF.
 */
import { isIP } from 'node:net';
import { unmappedAddress } from '../../dns/ip.ts';
import { isAddressLiteral } from '../../smtp/path.ts';
import { reply } from '../../smtp/replies.ts';
import {
  DUNNO,
  type PolicyContext,
  type Restriction,
  type RuleFactory,
  type RuleSpec,
  type Verdict,
} from '../restriction.ts';
import { canonicalAddress } from './client.ts';
import { noArguments } from './define.ts';
import { asciiDomain, lenientHostname } from './domains.ts';

function rule(name: string, evaluate: (ctx: PolicyContext, helo: string) => Verdict | Promise<Verdict>): RuleFactory {
  return (spec: RuleSpec): Restriction => {
    noArguments(name, spec);
    return { name, label: name, evaluate: (ctx) => (ctx.helo === undefined ? DUNNO : evaluate(ctx, ctx.helo)) };
  };
}

function rejectHelo(code: number, enhanced: string, helo: string, text: string, reason: string): Verdict {
  return { action: 'reject', reply: reply(code, enhanced, `<${helo}>: Helo command rejected: ${text}`), reason };
}

/**
 * An IP address without the brackets RFC 5321 §4.1.3 asks for. Postfix's reject_invalid_helo_hostname
 * takes it all the same (smtpd_check.c: `!valid_hostname() && !valid_hostaddr()`, "XXX back compat"),
 * as many honest hosts greet so; reject_non_fqdn_helo_hostname still refuses it, as Postfix's does.
 * A zone index (`fe80::1%eth0`) is no address another host can use: Postfix's valid_hostaddr() refuses it.
 */
function bareAddress(helo: string): boolean {
  return isIP(helo) !== 0 && !helo.includes('%');
}

/** The IP address a HELO names: `[192.0.2.1]`, `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3), or written bare. */
function heloAddress(helo: string): string | undefined {
  const bare = helo.startsWith('[') && helo.endsWith(']') ? helo.slice(1, -1).replace(/^ipv6:/i, '') : helo;
  return isIP(bare) ? canonicalAddress(bare) : undefined;
}

/** A/AAAA/MX for a HELO name; Postfix accepts any of the three. */
async function heloKnown(ctx: PolicyContext, helo: string, name: string): Promise<Verdict> {
  const answers = await Promise.all([ctx.resolver.a(name), ctx.resolver.aaaa(name), ctx.resolver.mx(name)]);
  if (answers.some((answer) => answer.ok)) return DUNNO;
  for (const answer of answers) {
    if (!answer.ok && answer.error === 'temperror') {
      // Postfix's text for both; the 4xx code tells the client the failure is ours and passing.
      return rejectHelo(450, '4.7.1', helo, 'Host not found', `HELO ${helo}: ${answer.reason}`);
    }
  }
  return rejectHelo(550, '5.7.1', helo, 'Host not found', `HELO ${helo} has no A, AAAA or MX record`);
}

export const heloRules: Record<string, RuleFactory> = {
  reject_invalid_helo_hostname: rule('reject_invalid_helo_hostname', (_ctx, helo) => {
    if (helo.startsWith('[') ? isAddressLiteral(helo) : lenientHostname(helo) !== undefined || bareAddress(helo))
      return DUNNO;
    return rejectHelo(501, '5.5.2', helo, 'Invalid name', `HELO "${helo}" is neither a domain nor an address literal`);
  }),

  reject_non_fqdn_helo_hostname: rule('reject_non_fqdn_helo_hostname', (_ctx, helo) => {
    if (helo.startsWith('[')) return DUNNO; // an address literal is complete; its syntax is the rule above's
    // RFC 5321 §2.3.5: a fully-qualified name, so dotted. Read as Postfix does (smtpd_check.c strips one
    // trailing dot, valid_hostname() takes "_"), so `mx.example.` and `my_host.example` are names.
    if (lenientHostname(helo)?.includes('.')) return DUNNO;
    return rejectHelo(
      504,
      '5.5.2',
      helo,
      'need fully-qualified hostname',
      `HELO "${helo}" is not a fully-qualified domain name`,
    );
  }),

  reject_unknown_helo_hostname: rule('reject_unknown_helo_hostname', (ctx, helo) => {
    if (helo.startsWith('[')) return DUNNO; // a literal names an address, there is nothing to look up
    // A name DNS cannot hold is not found; asking would only earn a resolver error, read as temporary.
    // DNS holds "_" (RFC 2181 §11), so a Windows host's my_host.example is asked for as it is.
    if (lenientHostname(helo) === undefined)
      return rejectHelo(550, '5.7.1', helo, 'Host not found', `HELO "${helo}" is not a name`);
    return heloKnown(ctx, helo, asciiDomain(helo.replace(/\.$/, '')) ?? helo);
  }),

  /** Only we are us: a stranger greeting with our name or address is forging (Postfix check_helo_access). */
  reject_helo_own_identity: rule('reject_helo_own_identity', (ctx, helo) => {
    if (ctx.server.mynetworks.contains(ctx.clientAddress)) return DUNNO; // our own hosts may say so
    const address = heloAddress(helo);
    // Ours: serverAddresses, and the address the client connected to, however written (::ffff:v4 too).
    const ourAddresses = [...ctx.server.addresses, ctx.serverAddress].map((a) => canonicalAddress(unmappedAddress(a)));
    // A client naming its own address is truthful, even where it is also ours (over loopback).
    const itsOwn =
      address !== undefined && unmappedAddress(address) === canonicalAddress(unmappedAddress(ctx.clientAddress));
    const claim =
      address !== undefined
        ? !itsOwn && ourAddresses.includes(unmappedAddress(address)) && `our address ${address}`
        : ownName(ctx, helo);
    if (!claim) return DUNNO;
    const reason = `HELO ${helo} claims ${claim} but the client ${ctx.clientAddress} is not in mynetworks`;
    return rejectHelo(550, '5.7.1', helo, 'you are not me', reason);
  }),
};

/** What of ours a HELO name claims: our hostname or a local domain (compared as A-labels, no trailing dot). */
function ownName(ctx: PolicyContext, helo: string): string | false {
  const name = asciiDomain(helo.replace(/\.$/, ''));
  if (name === undefined) return false;
  // RFC 6761 §6.3: localhost is this machine's own name, never a remote client's (a program on this
  // machine, connecting over loopback, may well say it).
  const loopback = /^127\./.test(ctx.clientAddress) || ctx.clientAddress === '::1';
  if (!loopback && (name === 'localhost' || name.endsWith('.localhost') || name === 'localhost.localdomain')) {
    return `localhost (${name})`;
  }
  if (name === asciiDomain(ctx.server.hostname.replace(/\.$/, ''))) return `our hostname ${ctx.server.hostname}`;
  return ctx.server.localDomains.has(name) && `our domain ${name}`;
}
