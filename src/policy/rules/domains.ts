/**
 * Sender and recipient domain checks, as Postfix names them: reject_non_fqdn_* want a dotted domain,
 * reject_unknown_*_domain want one that can receive mail: an MX, or an A/AAAA for the implicit MX
 * (RFC 5321 §5.1), and not a null MX (RFC 7505). A DNS failure defers, never accepts or rejects.
 * Our own domains are never looked up. Not done: checking that the MX hosts themselves resolve.
 */
import { domainToASCII } from 'node:url';
import type { Path } from '../../smtp/path.ts';
import { echoAddress, reply } from '../../smtp/replies.ts';
import { DUNNO, type PolicyContext, type Restriction, type RuleFactory, type Verdict } from '../restriction.ts';
import { noArguments } from './define.ts';

/** LDH labels of 1-63 octets (RFC 1035 §2.3.4), at most 255 in all (RFC 5321 §4.5.3.1.2), no trailing dot. */
const HOSTNAME = /^(?=.{1,255}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** The A-label form of a domain, lower case (RFC 5890 §2.3.2.1); undefined when it is not a valid IDN. */
export function asciiDomain(domain: string): string | undefined {
  if (/^[\x00-\x7f]*$/.test(domain)) return domain.toLowerCase();
  return domainToASCII(domain) || undefined;
}

/** A syntactically valid host name in A-label form, without a trailing dot. */
export function isHostname(ascii: string): boolean {
  return HOSTNAME.test(ascii);
}

/**
 * RFC 5321 §4.1.2 Domain, with U-labels as RFC 6531 §3.3 allows, as an A-label: LDH labels of 1-63
 * octets, 255 in all, no trailing dot. An all-numeric last label is an IP address without its
 * brackets (RFC 5321 §4.1.3), since no top-level domain is numeric (RFC 3696 §2).
 */
function validName(name: string): string | undefined {
  const ascii = asciiDomain(name);
  if (ascii === undefined || !isHostname(ascii) || /(^|\.)\d+$/.test(ascii)) return undefined;
  return ascii;
}

/**
 * A host name read leniently where real hosts stray from the grammar harmlessly, as Postfix's
 * valid_hostname() reads a HELO name or a PTR name: Windows hosts put "_" in their names, and a
 * trailing dot is the DNS root's, not an error. valid_hostname() takes "_" as it takes a letter,
 * anywhere in a label (`_dmarc.example`, `host_.example`), so it stands in for one here. Undefined
 * when not a name; otherwise the A-label with "a" for each "_".
 */
export function lenientHostname(name: string): string | undefined {
  return validName(name.replace(/\.$/, '').replaceAll('_', 'a'));
}

/** What a domain's DNS says about taking mail. */
type MailDomain = { found: 'yes' | 'no' | 'null-mx' | 'temperror'; reason: string };

/** RFC 5321 §5.1: the MX records, or without any an A/AAAA as the implicit MX. */
async function mailDomain(ctx: PolicyContext, domain: string): Promise<MailDomain> {
  const mx = await ctx.resolver.mx(domain);
  if (mx.ok) {
    // RFC 7505 §3: a null MX is the one MX record of a domain, with the root "." as exchange.
    const isNull = mx.records.length === 1 && mx.records[0]!.exchange.replace(/\.$/, '') === '';
    return isNull
      ? { found: 'null-mx', reason: `${domain} has a null MX: it accepts no mail (RFC 7505)` }
      : { found: 'yes', reason: `${domain} has MX records` };
  }
  // A failed MX lookup might have hidden a null MX, so an A record alone cannot settle it: defer.
  if (mx.error === 'temperror') return { found: 'temperror', reason: `MX lookup of ${domain} failed: ${mx.reason}` };
  // RFC 8020 §2: NXDOMAIN means no records of any type, so A and AAAA need not be asked.
  if (mx.error === 'nxdomain') return { found: 'no', reason: `${domain} does not exist (NXDOMAIN)` };
  const [a, aaaa] = await Promise.all([ctx.resolver.a(domain), ctx.resolver.aaaa(domain)]);
  if (a.ok || aaaa.ok) return { found: 'yes', reason: `${domain} has no MX but an address (implicit MX)` };
  for (const answer of [a, aaaa]) {
    if (!answer.ok && answer.error === 'temperror') {
      return { found: 'temperror', reason: `address lookup of ${domain} failed: ${answer.reason}` };
    }
  }
  return { found: 'no', reason: `${domain} has no MX, A or AAAA record` };
}

type Role = 'sender' | 'recipient';
const WHO = { sender: 'Sender', recipient: 'Recipient' } as const;

/** The address the rule looks at; undefined for the null sender and a stage without one. */
function pathOf(ctx: PolicyContext, role: Role): Path | undefined {
  return (role === 'sender' ? ctx.sender : ctx.recipient) ?? undefined;
}

function nonFqdn(role: Role): RuleFactory {
  const name = `reject_non_fqdn_${role}`;
  return (spec): Restriction => {
    noArguments(name, spec);
    return {
      name,
      label: name,
      evaluate(ctx): Verdict {
        const path = pathOf(ctx, role);
        if (!path || path.domain.startsWith('[')) return DUNNO; // an address literal is complete (RFC 5321 §4.1.3)
        // RFC 5321 §4.1.1.3: the domain-less <postmaster> is a valid recipient.
        if (role === 'recipient' && path.domain === '') return DUNNO;
        const ascii = asciiDomain(path.domain);
        if (ascii !== undefined && isHostname(ascii) && ascii.includes('.')) return DUNNO;
        return {
          action: 'reject',
          reply: reply(
            504,
            '5.5.2',
            `<${echoAddress(path.address)}>: ${WHO[role]} address rejected: need fully-qualified address`,
          ),
          reason: `the ${role} domain "${path.domain}" is not a fully-qualified domain name`,
        };
      },
    };
  };
}

/** Codes per outcome: RFC 3463 §3.2 (X.1.8 bad sender's system, X.1.2 bad destination system) and RFC 7505. */
const CODES = {
  sender: { no: [550, '5.1.8'], nullMx: [550, '5.7.27'], temp: [450, '4.1.8'] }, // null MX: RFC 7505 §4.2
  recipient: { no: [550, '5.1.2'], nullMx: [556, '5.1.10'], temp: [450, '4.1.2'] }, // null MX: RFC 7505 §4.1
} as const;

function unknownDomain(role: Role): RuleFactory {
  const name = `reject_unknown_${role}_domain`;
  return (spec): Restriction => {
    noArguments(name, spec);
    return {
      name,
      label: name,
      evaluate(ctx): Verdict | Promise<Verdict> {
        const path = pathOf(ctx, role);
        if (!path || path.domain === '' || path.domain.startsWith('[')) return DUNNO;
        const ascii = asciiDomain(path.domain)?.replace(/\.$/, '');
        const prefix = `<${echoAddress(path.address)}>: ${WHO[role]} address rejected:`;
        const codes = CODES[role];
        if (ascii === undefined || !isHostname(ascii)) {
          // Not a name DNS can hold: asking would only earn a resolver error, read as temporary.
          const [code, enhanced] = codes.no;
          const reason = `the ${role} domain "${path.domain}" is not a valid domain name`;
          return { action: 'reject', reply: reply(code, enhanced, `${prefix} Domain not found`), reason };
        }
        if (ctx.server.localDomains.has(ascii)) return DUNNO; // ours: known without asking DNS
        return mailDomain(ctx, ascii).then(({ found, reason }): Verdict => {
          if (found === 'yes') return DUNNO;
          if (found === 'null-mx') {
            const [code, enhanced] = codes.nullMx;
            const text = `${prefix} Domain does not accept mail (null MX)`;
            return { action: 'reject', reply: reply(code, enhanced, text), reason };
          }
          // Postfix's wording for both: the 4xx code alone tells the client to try again.
          const [code, enhanced] = found === 'temperror' ? codes.temp : codes.no;
          return { action: 'reject', reply: reply(code, enhanced, `${prefix} Domain not found`), reason };
        });
      },
    };
  };
}

export const domainRules: Record<string, RuleFactory> = {
  reject_non_fqdn_sender: nonFqdn('sender'),
  reject_non_fqdn_recipient: nonFqdn('recipient'),
  reject_unknown_sender_domain: unknownDomain('sender'),
  reject_unknown_recipient_domain: unknownDomain('recipient'),
};
